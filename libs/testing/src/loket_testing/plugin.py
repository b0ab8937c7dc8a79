"""pytest plugin (entry point `loket`): the `loket_platform` fixture for suites that test
against Loket.

    async def test_something(loket_platform):
        async with loket_platform.client() as http: ...

`--loket-platform` (or LOKET_PLATFORM) chooses how Loket runs:
- `containers`: through testcontainers, on the images `make images` built;
- `embedded`: local processes (Kafka, Temporal's dev server, Keycloak, the services);
- `auto` (default): containers when an engine answers and the images are there, else embedded.
A platform is started once per session and stopped at its end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from loket_testing.platform import Kind, LoketPlatform

CHOICES = ("auto", "containers", "embedded")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--loket-platform",
        choices=CHOICES,
        default=None,
        help="how loket_platform runs Loket: containers, embedded or auto (LOKET_PLATFORM)",
    )


def chosen_kind(config: pytest.Config) -> Kind:
    asked = config.getoption("--loket-platform") or os.environ.get("LOKET_PLATFORM", "auto")
    if asked not in CHOICES:
        raise pytest.UsageError(f"LOKET_PLATFORM must be one of {', '.join(CHOICES)}")
    if asked == "auto":
        from loket_testing.containers import images_present

        return "containers" if images_present() else "embedded"
    return "containers" if asked == "containers" else "embedded"


@pytest.fixture(scope="session")
def loket_platform_kind(request: pytest.FixtureRequest) -> Kind:
    return chosen_kind(request.config)


@contextlib.contextmanager
def start_platform(kind: Kind, data_dir: Path) -> Iterator[LoketPlatform]:
    """Run Loket one way until the block ends (the fixture's engine; tests of both ways)."""
    if kind == "containers":
        from loket_infra.docker_engine import engine

        from loket_testing.containers import ContainerPlatform

        with engine(data_dir / "engine"), ContainerPlatform() as containers:
            yield LoketPlatform("containers", containers)
        return
    from loket_infra.stack import EmbeddedStack, StackConfig

    with EmbeddedStack(StackConfig(data_dir=data_dir / "stack")) as stack:
        yield LoketPlatform("embedded", stack)


@pytest.fixture(scope="session")
def loket_platform(
    loket_platform_kind: Kind, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoketPlatform]:
    """A whole Loket for this session: gateway URL, Kafka bootstrap and credentials."""
    with start_platform(loket_platform_kind, tmp_path_factory.mktemp("loket-platform")) as p:
        yield p
