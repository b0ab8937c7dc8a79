"""`loket`: run the embedded platform, one service, or the demo scenario."""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import signal
import sys
import threading
from pathlib import Path

from loket_infra.stack import SERVICES, WORKERS, EmbeddedStack, StackConfig

RUNNABLE = {**SERVICES, **WORKERS, "gateway": "loket_gateway"}
UP_DATA_DIR = ".loket/up"


def _up(args: argparse.Namespace) -> int:
    config = StackConfig(
        data_dir=Path(args.data_dir),
        ui=True,
        fresh=args.fresh,
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


def _service(args: argparse.Namespace) -> int:
    # The same data folder as `loket up`, so a service run by hand finds its database there.
    os.environ.setdefault("LOKET_DATA_DIR", UP_DATA_DIR)
    module = RUNNABLE[args.name]
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


def _token(args: argparse.Namespace) -> int:
    """Print an access token of the running `loket up` for a demo actor."""
    from loket_infra.identities import DEMO_FACILITY, IdentityProvider

    data = Path(args.data_dir)
    try:
        idp = IdentityProvider.load(data)
    except FileNotFoundError:
        print(f"no running `loket up` in {data}: start it first", file=sys.stderr)
        return 2
    if args.role == "applicant":
        print(idp.applicant(args.org))
    elif args.role == "facility":
        print(idp.facility(args.facility or DEMO_FACILITY))
    else:
        print(idp.role(args.role))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from loket_infra.demo import run_demo

    return run_demo(Path(args.data_dir), stay=args.stay)


def _kafka_setup(args: argparse.Namespace) -> int:
    """Topics and ACLs on a broker someone else runs (compose), as its operator."""
    import asyncio

    from loket_messaging.kafka import KafkaAccess

    from loket_infra import kafka_acls
    from loket_infra.stack import create_topics

    admin = KafkaAccess.from_env(os.environ.get("LOKET_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    asyncio.run(create_topics(admin))
    count = asyncio.run(kafka_acls.apply(admin)) if admin.login else 0
    print(f"kafka-setup: topics ready at {admin.bootstrap}; {count} ACL(s) applied", flush=True)
    return 0


def _docs(args: argparse.Namespace) -> int:
    from loket_infra.apidocs import write

    for path in write(Path(args.out)):
        print(f"wrote {path}")
    return 0


def _workflows(args: argparse.Namespace) -> int:
    import asyncio

    from loket_messaging.settings import Settings

    from loket_infra.workflow_runs import report

    settings = Settings.from_env("cli")
    print(asyncio.run(report(settings.temporal_address, settings.temporal_namespace)))
    return 0


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request buries output
    parser = argparse.ArgumentParser(prog="loket", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole platform on embedded infrastructure")
    up.add_argument("--data-dir", default=UP_DATA_DIR)
    up.add_argument(
        "--fresh",
        action="store_true",
        help="wipe the data folder first; by default Kafka's log, Temporal's history and the "
        "service databases are kept, so in-flight applications go on after a restart",
    )
    up.set_defaults(func=_up)
    token = sub.add_parser("token", help="print an access token of the running `loket up`")
    token.add_argument(
        "--as",
        dest="role",
        required=True,
        choices=["applicant", "facility", "manager", "auditor"],
    )
    token.add_argument("--org", default="AT-qubitron", help="the applicant's organisation")
    token.add_argument("--facility", help="the facility id (default: the demo facility)")
    token.add_argument("--data-dir", default=UP_DATA_DIR)
    token.set_defaults(func=_token)
    svc = sub.add_parser("service", help="run one service in the foreground")
    svc.add_argument("name", choices=sorted(RUNNABLE))
    svc.set_defaults(func=_service)
    demo = sub.add_parser("demo", help="start everything, run the demo scenario, stop")
    demo.add_argument("--data-dir", default=".loket/demo")
    demo.add_argument(
        "--stay",
        action="store_true",
        help="keep the platform up after the scenario, with the Temporal UI on :18233",
    )
    demo.set_defaults(func=_demo)
    setup = sub.add_parser("kafka-setup", help="create topics and ACLs (LOKET_KAFKA_*)")
    setup.set_defaults(func=_kafka_setup)
    docs = sub.add_parser("docs", help="write the AsyncAPI and OpenAPI documents")
    docs.add_argument("--out", default="docs")
    docs.set_defaults(func=_docs)
    runs = sub.add_parser("workflows", help="open runs per workflow type (LOKET_TEMPORAL_*)")
    runs.add_argument("what", choices=["open"])
    runs.set_defaults(func=_workflows)
    args = parser.parse_args(argv)
    code = args.func(args)
    sys.stdout.flush()
    # temporalio may crash in interpreter teardown (PyGILState_Release); the work is done.
    os._exit(code)


if __name__ == "__main__":
    main()
