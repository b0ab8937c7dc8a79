"""Go programs the container images need, built here with the Go toolchain from the Go module
proxy: Temporal's production server and its SQL schema tool (`infra/go/temporal`) and Jaeger v2
(`infra/go/jaeger`). Each folder is a Go module whose `tool` lines and go.sum pin what is built.

Temporal v1.32 needs Go 1.26.10 or newer; the machine's Go fetches the toolchain named below
from the proxy like any module (GOTOOLCHAIN). A program whose module files are unchanged since
its last build is not built again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from loket_infra.brokers import INFRA_DIR

GO_DIR = INFRA_DIR / "go"
OUT = INFRA_DIR.parent / ".tools" / "go"
TOOLCHAIN = "go1.27.3"
TEMPORAL_MODULE = "go.temporal.io/server"


@dataclass(frozen=True)
class Program:
    name: str
    module_dir: str  # under infra/go
    package: str


PROGRAMS = (
    Program("temporal-server", "temporal", f"{TEMPORAL_MODULE}/cmd/server"),
    Program("temporal-sql-tool", "temporal", f"{TEMPORAL_MODULE}/cmd/tools/sql"),
    Program("jaeger", "jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger"),
)


def _env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": TOOLCHAIN, "GOFLAGS": "-mod=readonly"}


def _go() -> str:
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise SystemExit("images: the Go toolchain is missing (`go` on PATH)")
    return go


def module_digest(module_dir: str) -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((GO_DIR / module_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def bin_dir(module_dir: str) -> Path:
    return OUT / module_dir / "bin"


def build(program: Program) -> Path:
    target = bin_dir(program.module_dir) / program.name
    stamp = target.with_suffix(".inputs")
    wanted = module_digest(program.module_dir)
    if target.exists() and stamp.exists() and stamp.read_text() == wanted:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run(
        [_go(), "build", "-trimpath", "-o", str(target), program.package],
        cwd=GO_DIR / program.module_dir,
        env=_env(),
        check=True,
    )
    stamp.write_text(wanted)
    print(f"images: {program.name} built with Go in {time.monotonic() - started:.0f} s")
    return target


def temporal_schema() -> Path:
    """Temporal's PostgreSQL schema, from the very module version the server is built from."""
    out = OUT / "temporal" / "schema"
    stamp = out.with_suffix(".inputs")
    wanted = module_digest("temporal")
    if out.exists() and stamp.exists() and stamp.read_text() == wanted:
        return out
    source = subprocess.run(
        [_go(), "list", "-m", "-f", "{{.Dir}}", TEMPORAL_MODULE],
        cwd=GO_DIR / "temporal",
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    shutil.rmtree(out, ignore_errors=True)
    # The module cache is read-only: copy the bytes, not the modes.
    shutil.copytree(
        Path(source) / "schema" / "postgresql", out / "postgresql", copy_function=shutil.copyfile
    )
    for path in out.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    stamp.write_text(wanted)
    return out


def build_all(modules: set[str] | None = None) -> None:
    """The programs of `modules` (folders under infra/go; default: all)."""
    for program in PROGRAMS:
        if modules is None or program.module_dir in modules:
            build(program)
    if modules is None or "temporal" in modules:
        temporal_schema()
