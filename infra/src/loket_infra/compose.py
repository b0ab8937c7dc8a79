"""`docker-compose.yml` run for real: its secrets, bringing it up and down, and the platform it
runs as seen by a client (the demo drives it exactly as it drives the embedded stack).

Secrets live in one env file, made once per folder (mode 0600, never committed); compose
refuses to start without each of them. Ports are those of the compose file (the 2xxxx
family: it runs beside `loket up`'s 1xxxx)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import httpx
from loket_contracts import keys
from loket_messaging.kafka import KafkaAccess

from loket_infra import kafka_acls
from loket_infra import keycloak as kc
from loket_infra.docker_engine import engine
from loket_infra.identities import IdentityProvider
from loket_infra.processes import READY_DEADLINE_S, wait_until
from loket_infra.stack_secrets import StackSecrets, new_values

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROJECT = "loket"
KAFKA_PORT, TEMPORAL_PORT, GATEWAY_PORT, KEYCLOAK_PORT = 29092, 27233, 28080, 28081
JAEGER_PORT = 26686  # its query API (and UI)


PASSWORD_PREFIX = "LOKET_KAFKA_PASSWORD_"


def password_variable(principal: str) -> str:
    return PASSWORD_PREFIX + principal.upper()


def new_secrets() -> dict[str, str]:
    """The platform's keys and Kafka passwords (as the embedded stack makes them), spelled as
    compose variables, and the passwords only compose needs."""
    platform = StackSecrets(new_values())
    kafka = platform.kafka_users()
    clients = {name: pw for name, pw in kafka.items() if name != "controller"}
    return {
        **{k: v for k, v in platform.values.items() if not k.startswith("kafka:")},
        "LOKET_POSTGRES_PASSWORD": keys.new_key(),
        "LOKET_KC_ADMIN_PASSWORD": keys.new_key(),
        "LOKET_KC_FACILITY_SECRET": keys.new_key(),
        "LOKET_KC_DEMO_PASSWORD": keys.new_key(),
        "KAFKA_CONTROLLER_PASSWORD": kafka["controller"],
        "KAFKA_SCRAM_USERS": ",".join(f"{name}={pw}" for name, pw in clients.items()),
        **{password_variable(name): pw for name, pw in clients.items()},
    }


def env_file(folder: Path, durations: dict[str, int] | None = None) -> Path:
    """The folder's env file: its secrets (made on first use, then kept: a restarted platform
    must read its own encrypted histories) and the lifecycle durations asked for."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / "secrets.json"
    if not kept.exists():
        kept.touch(mode=0o600)
        kept.write_text(json.dumps(new_secrets()))
    values = json.loads(kept.read_text()) | {k: str(v) for k, v in (durations or {}).items()}
    path = folder / "compose.env"
    path.touch(mode=0o600)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def compose(env: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["docker-compose", "-p", PROJECT, "-f", str(COMPOSE_FILE), "--env-file", str(env)]
    return subprocess.run(
        [*argv, *args], check=check, text=True, env=os.environ | {"DOCKER_BUILDKIT": "0"}
    )


@dataclass
class ComposePlatform:
    """The compose platform from a client's side: the same attributes the demo uses on an
    EmbeddedStack."""

    values: dict[str, str]
    namespace: str = "loket"
    gateway_url: str = f"http://127.0.0.1:{GATEWAY_PORT}"
    temporal_address: str = f"127.0.0.1:{TEMPORAL_PORT}"
    jaeger_url: str = f"http://127.0.0.1:{JAEGER_PORT}"
    kafka_bootstrap: str = f"127.0.0.1:{KAFKA_PORT}"

    @classmethod
    def from_env_file(cls, path: Path) -> ComposePlatform:
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if line)
        return cls(values)

    @cached_property  # one provider: it caches the tokens it fetched
    def identity(self) -> IdentityProvider:
        credentials = kc.Credentials(
            facility_secret=self.values["LOKET_KC_FACILITY_SECRET"],
            demo_password=self.values["LOKET_KC_DEMO_PASSWORD"],
            admin_password=self.values["LOKET_KC_ADMIN_PASSWORD"],
        )
        return IdentityProvider(KEYCLOAK_PORT, credentials)

    @cached_property
    def secrets(self) -> StackSecrets:
        """The env file read back as the embedded stack keeps its secrets."""
        kafka = {
            "kafka:" + k.removeprefix(PASSWORD_PREFIX).lower(): v
            for k, v in self.values.items()
            if k.startswith(PASSWORD_PREFIX)
        }
        return StackSecrets({**self.values, **kafka})

    @property
    def kafka_admin(self) -> KafkaAccess:
        return KafkaAccess(self.kafka_bootstrap, self.secrets.kafka_login("admin"))

    @property
    def facility_access(self) -> KafkaAccess:
        return KafkaAccess(self.kafka_bootstrap, self.secrets.kafka_login(kafka_acls.FACILITIES))

    def facility_key(self, facility_id: str) -> bytes:
        return self.secrets.facility_key(facility_id)

    def ready(self) -> bool:
        try:
            health = httpx.get(self.gateway_url + "/healthz", timeout=2)
        except httpx.HTTPError:
            return False
        return health.status_code == 200 and kc.realm_ready(KEYCLOAK_PORT)


def up(folder: Path, durations: dict[str, int] | None = None) -> ComposePlatform:
    """Start the compose platform (images must exist: `make images`) and wait until the
    gateway answers and the realm is served."""
    env = env_file(folder, durations)
    compose(env, "up", "-d", "--no-build")
    platform = ComposePlatform.from_env_file(env)
    # Compose restarts whatever exits while its dependencies come up: only the deadline ends
    # the wait.
    wait_until("compose platform", platform.ready, READY_DEADLINE_S)
    return platform


def save_logs(folder: Path) -> Path:
    """Every container's log, for the operator reading a failure."""
    path = folder / "compose.log"
    with path.open("w") as out:
        argv = ["docker-compose", "-p", PROJECT, "-f", str(COMPOSE_FILE)]
        argv += ["--env-file", str(folder / "compose.env"), "logs", "--no-color"]
        subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    return path


def down(folder: Path, *, volumes: bool = True) -> None:
    compose(env_file(folder), "down", *(["--volumes"] if volumes else []), check=False)


async def refuses_strangers(platform: ComposePlatform) -> list[str]:
    """What an attacker meets first: raises if any of it gets through."""
    from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAuthorizationFailedError
    from loket_contracts.topics import FACILITY_CAPACITY, VOUCHERS_COMMANDS

    from loket_infra.kafka_tools import produce_raw

    seen = []
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60) as http:
        resp = await http.get("/v1/applications")
        if resp.status_code != 401 or "www-authenticate" not in resp.headers:
            raise RuntimeError(f"an anonymous listing got {resp.status_code}")
        seen.append("HTTP without a token: 401 with WWW-Authenticate")
    strangers = [
        ("anonymous", KafkaAccess(platform.kafka_bootstrap), FACILITY_CAPACITY, KafkaError),
        ("facilities", platform.facility_access, VOUCHERS_COMMANDS, TopicAuthorizationFailedError),
    ]
    for who, target, topic, refusal in strangers:
        try:
            await produce_raw(target, topic)
        except KafkaTimeoutError as exc:  # a KafkaError too, but slow is not refused
            raise RuntimeError(f"Kafka did not answer {who} writing {topic}") from exc
        except refusal:
            seen.append(f"Kafka: {who} writing {topic} refused")
            continue
        raise RuntimeError(f"Kafka let {who} write {topic}")
    return seen


def traced(platform: ComposePlatform, deadline_s: float = 60) -> str:
    """Jaeger holds connected traces that cross the platform: raises if not."""
    wanted = {f"loket-{name}" for name in ("gateway", "workflows", "eligibility",
              "allocation", "charter", "vouchers")}  # fmt: skip
    end = time.monotonic() + deadline_s
    while True:
        resp = httpx.get(
            f"{platform.jaeger_url}/api/traces",
            params={"service": "loket-gateway", "operation": "POST /v1/applications", "limit": 5},
            timeout=10,
        )
        resp.raise_for_status()
        for found in resp.json().get("data") or []:
            services = {p["serviceName"] for p in found["processes"].values()}
            if wanted <= services:
                return (
                    f"Jaeger: trace {found['traceID']} of one application crosses "
                    f"{len(services)} services in {len(found['spans'])} spans"
                )
        if time.monotonic() > end:
            raise RuntimeError(f"Jaeger has no application trace crossing {sorted(wanted)}")
        time.sleep(1)


def demo(folder: Path) -> int:
    """The demo scenario against compose, on a fresh platform (volumes dropped after): the
    same outcomes as `make demo` or a non-zero exit."""
    from rich.console import Console

    from loket_infra import demo as scenario
    from loket_infra.demo_summary import report

    console = Console(width=100)
    t0 = time.monotonic()
    durations = {
        "LOKET_ACCEPTANCE_WINDOW_S": scenario.DEMO_ACCEPTANCE_WINDOW_S,
        "LOKET_VOUCHER_VALIDITY_S": scenario.DEMO_VOUCHER_VALIDITY_S,
        "LOKET_ACCESS_REPORT_S": scenario.DEMO_ACCESS_REPORT_S,
    }
    with engine(folder / "engine"):
        down(folder)  # a platform left over from an interrupted run
        try:
            platform = up(folder, durations)
            console.print(
                f"compose platform up in {time.monotonic() - t0:.1f}s (gateway "
                f"{platform.gateway_url}, OIDC {platform.identity.issuer}, Kafka "
                f"{platform.kafka_bootstrap} with SASL/SCRAM)"
            )
            for line in asyncio.run(refuses_strangers(platform)):
                console.print(line)
            outcomes = scenario.run_scenario(platform, console)
            console.print(traced(platform))
        except BaseException:
            console.print(f"failed; every container's log: {save_logs(folder)}")
            raise
        finally:
            down(folder)
    return report(outcomes, console, t0)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m loket_infra.compose")
    parser.add_argument("action", choices=["up", "down", "env", "demo"])
    parser.add_argument("--dir", default=str(ROOT / ".loket" / "compose"), type=Path)
    args = parser.parse_args()
    if args.action == "env":
        print(env_file(args.dir))
    elif args.action == "up":
        platform = up(args.dir)
        print(
            f"Loket (compose) is up: gateway {platform.gateway_url}/docs · traces "
            f"{platform.jaeger_url}/api/traces · OIDC {platform.identity.issuer}"
        )
    elif args.action == "demo":
        return demo(args.dir)
    else:
        down(args.dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
