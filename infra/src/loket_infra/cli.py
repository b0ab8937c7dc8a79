"""`loket`: the operator's commands (run the embedded platform, one service, the demo, the
docs) and a start-up's (`loket_client.cli`: login, apply, status, terms, accept, ...)."""

from __future__ import annotations

import functools
import logging
import os
import runpy
import signal
import sys
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from loket_client import cli as startup

from loket_infra.stack import SERVICES, WORKERS, EmbeddedStack, StackConfig

RUNNABLE = {**SERVICES, **WORKERS, "gateway": "loket_gateway"}
UP_DATA_DIR = ".loket/up"
app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
DataDir = Annotated[str, typer.Option("--data-dir")]
Runnable = StrEnum("Runnable", {name: name for name in sorted(RUNNABLE)})  # type: ignore[misc]


class Role(StrEnum):
    applicant = "applicant"
    facility = "facility"
    manager = "manager"
    auditor = "auditor"


@app.command()
def up(
    data_dir: DataDir = UP_DATA_DIR,
    fresh: Annotated[
        bool,
        typer.Option(
            help="wipe the data folder first; by default Kafka's log, Temporal's history and "
            "the service databases are kept, so in-flight applications go on after a restart"
        ),
    ] = False,
) -> int:
    """Run the whole platform on embedded infrastructure."""
    config = StackConfig(
        data_dir=Path(data_dir),
        ui=True,
        fresh=fresh,
        kafka_port=int(os.environ.get("LOKET_KAFKA_PORT", 19092)),
        temporal_port=int(os.environ.get("LOKET_TEMPORAL_PORT", 17233)),
        temporal_ui_port=int(os.environ.get("LOKET_TEMPORAL_UI_PORT", 18233)),
        gateway_port=int(os.environ.get("LOKET_GATEWAY_PORT", 18080)),
        keycloak_port=int(os.environ.get("LOKET_KEYCLOAK_PORT", 18081)),
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with EmbeddedStack(config) as stack:
        print(
            f"Loket is up. Gateway {stack.gateway_url}/docs · Temporal UI {stack.temporal_ui} "
            f"· Kafka {stack.kafka_bootstrap} · OIDC {stack.identity.issuer} · logs "
            f"{stack.log_dir}. Ctrl-C stops it.\n"
            "Every route but the catalogue and the transparency register needs a token:\n"
            "  TOKEN=$(loket token --as applicant)            # Ada of AT-qubitron\n"
            "  TOKEN=$(loket token --as applicant --org DE-x) # a person of another org\n"
            "  TOKEN=$(loket token --as manager|auditor)\n"
            "  TOKEN=$(loket token --as facility --facility fac-fr-grenoble)\n"
            f'  curl -H "Authorization: Bearer $TOKEN" {stack.gateway_url}/v1/applications',
            flush=True,
        )
        # A supervisor, not a domino: a child that exits is started again with backoff
        # while the others keep serving.
        while not stop.wait(0.5):
            for line in stack.supervise():
                logging.getLogger("loket.supervisor").warning(line)
        print("stopping…", flush=True)
    return 0


@app.command()
def service(name: Annotated[Runnable, typer.Argument()]) -> int:
    """Run one service in the foreground."""
    # The same data folder as `loket up`, so a service run by hand finds its database there.
    os.environ.setdefault("LOKET_DATA_DIR", UP_DATA_DIR)
    module = RUNNABLE[name.value]
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


@app.command()
def token(
    role: Annotated[Role, typer.Option("--as")],
    org: Annotated[str, typer.Option(help="the applicant's organisation")] = "AT-qubitron",
    facility: Annotated[str | None, typer.Option(help="the facility id")] = None,
    data_dir: DataDir = UP_DATA_DIR,
) -> int:
    """Print an access token of the running `loket up` for a demo actor."""
    from loket_infra.identities import DEMO_FACILITY, IdentityProvider

    data = Path(data_dir)
    try:
        idp = IdentityProvider.load(data)
    except FileNotFoundError:
        print(f"no running `loket up` in {data}: start it first", file=sys.stderr)
        return 2
    if role == Role.applicant:
        print(idp.applicant(org))
    elif role == Role.facility:
        print(idp.facility(facility or DEMO_FACILITY))
    else:
        print(idp.role(role.value))
    return 0


@app.command()
def demo(
    data_dir: DataDir = ".loket/demo",
    stay: Annotated[
        bool, typer.Option(help="keep the platform up after the scenario (Temporal UI :18233)")
    ] = False,
) -> int:
    """Start everything, run the demo scenario, stop."""
    from loket_infra.demo import run_demo

    return run_demo(Path(data_dir), stay=stay)


@app.command("kafka-setup")
def kafka_setup() -> int:
    """Topics and ACLs on a broker someone else runs (compose), as its operator."""
    import asyncio

    from loket_messaging.kafka import KafkaAccess

    from loket_infra import kafka_acls
    from loket_infra.kafka_tools import create_topics

    admin = KafkaAccess.from_env(os.environ.get("LOKET_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    asyncio.run(create_topics(admin))
    count = asyncio.run(kafka_acls.apply(admin)) if admin.login else 0
    print(f"kafka-setup: topics ready at {admin.bootstrap}; {count} ACL(s) applied", flush=True)
    return 0


@app.command()
def docs(out: str = "docs") -> int:
    """Write the AsyncAPI and OpenAPI documents."""
    from loket_infra.apidocs import write

    for path in write(Path(out)):
        print(f"wrote {path}")
    return 0


@app.command()
def workflows(what: Annotated[str, typer.Argument(help="open")] = "open") -> int:
    """Open runs per workflow type (LOKET_TEMPORAL_*)."""
    import asyncio

    from loket_messaging.settings import Settings

    from loket_infra.workflow_runs import report

    settings = Settings.from_env("cli")
    print(asyncio.run(report(settings.temporal_address, settings.temporal_namespace)))
    return 0


def _exits(command: Callable[..., int | None]) -> Callable[..., None]:
    """An operator command's return value is the process's exit code (the demo's verdict)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        code = command(*args, **kwargs)
        if code:
            raise typer.Exit(code)

    return run


for command in app.registered_commands:
    command.callback = _exits(command.callback) if command.callback else None
# A start-up's and a facility's commands, beside the operator's.
app.registered_commands.extend(startup.app.registered_commands)
app.registered_groups.extend(startup.app.registered_groups)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request buries output
    try:
        app(args=argv)  # standalone: usage errors print as such, and it exits with the code
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio may crash in interpreter teardown (PyGILState_Release); the work is done.
    os._exit(code)


if __name__ == "__main__":
    main()
