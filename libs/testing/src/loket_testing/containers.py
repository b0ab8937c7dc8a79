"""Loket as containers, started through testcontainers on the images `make images` builds.

Every container uses host networking and listens on 127.0.0.1 on ports chosen free for this
platform, so two suites on one host never meet. Secrets are fresh per platform. testcontainers'
reaper (Ryuk) is an image no registry here serves: it is turned off, and `stop()` removes every
container this platform started, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import httpx
import psycopg
from loket_contracts import keys
from loket_infra import kafka_acls
from loket_infra import keycloak as kc
from loket_infra.docker_engine import engine_answers
from loket_infra.identities import IdentityProvider
from loket_infra.images import TEMPORAL_VERSION, images
from loket_infra.processes import READY_DEADLINE_S, free_port, port_open
from loket_infra.stack_secrets import StackSecrets, new_values
from loket_messaging.kafka import KafkaAccess

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
from testcontainers.core.container import DockerContainer

REALM_FILE = Path(kc.__file__).resolve().parents[3] / "infra" / "keycloak" / "loket-realm.json"
LOKET_IMAGE = "loket/loket:dev"
SERVICES = ("eligibility", "allocation", "vouchers", "charter", "workflows")
WITH_DATABASE = ("eligibility", "allocation", "vouchers", "charter", "gateway")
NAMESPACE = "loket"


def images_present() -> bool:
    """An engine answers and every Loket image is there (`make images`)."""
    if not engine_answers():
        return False
    import docker

    client = docker.from_env()
    try:
        for image in images():
            client.images.get(image.tag)
    except docker.errors.ImageNotFound:
        return False
    return True


class ContainerPlatform:
    """The whole platform as containers. `with ContainerPlatform() as p:` starts and stops it."""

    def __init__(self, start_timeout_s: float = READY_DEADLINE_S) -> None:
        self.timeout_s = start_timeout_s
        self.secrets = StackSecrets(new_values())
        self.pg_password = keys.new_key()
        # Temporal's other services take the frontend's port + 1, 2 and 6, and membership
        # ports from its own base the same way (free_port stays below 32000: Temporal stores
        # them as smallint): those bases come with their neighbours, which no other server
        # may get (Keycloak once did, and could not bind).
        self.ports = {name: free_port(span=7) for name in ("temporal", "temporal-membership")}
        self.ports |= {
            name: free_port() for name in ("postgres", "kafka", "controller", "keycloak", "gateway")
        }
        self.ports |= {f"temporal-{n}": free_port() for n in ("http", "metrics")}
        self._last_check = 0.0
        self.credentials = kc.Credentials()
        self.containers: dict[str, DockerContainer] = {}

    # ---- what a client needs ---------------------------------------------------------------

    namespace = NAMESPACE

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports['temporal']}"

    @property
    def kafka_admin(self) -> KafkaAccess:
        return KafkaAccess(self.kafka_bootstrap, self.secrets.kafka_login("admin"))

    @property
    def facility_access(self) -> KafkaAccess:
        return KafkaAccess(self.kafka_bootstrap, self.secrets.kafka_login(kafka_acls.FACILITIES))

    @cached_property
    def identity(self) -> IdentityProvider:
        return IdentityProvider(self.ports["keycloak"], self.credentials)

    def facility_key(self, facility_id: str) -> bytes:
        return self.secrets.facility_key(facility_id)

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres:{self.pg_password}@127.0.0.1:{self.ports['postgres']}/{database}"

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ContainerPlatform:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ports = self.ports
        self._run(
            "postgres",
            "loket/postgres:15",
            {"POSTGRES_PORT": str(ports["postgres"]), "POSTGRES_PASSWORD": self.pg_password},
        )
        users = {k: v for k, v in self.secrets.kafka_users().items() if k != "controller"}
        self._run(
            "kafka",
            "loket/kafka:4.4.0",
            {
                "KAFKA_PORT": str(ports["kafka"]),
                "KAFKA_CONTROLLER_PORT": str(ports["controller"]),
                "KAFKA_SCRAM_USERS": ",".join(f"{n}={pw}" for n, pw in users.items()),
                "KAFKA_CONTROLLER_PASSWORD": self.secrets.kafka_users()["controller"],
            },
        )
        self._wait("PostgreSQL", self._postgres_ready)
        self._run(
            "temporal",
            f"loket/temporal:{TEMPORAL_VERSION}",
            {
                "POSTGRES_PORT": str(ports["postgres"]),
                "POSTGRES_PASSWORD": self.pg_password,
                "TEMPORAL_PORT": str(ports["temporal"]),
                "TEMPORAL_HTTP_PORT": str(ports["temporal-http"]),
                "TEMPORAL_METRICS_PORT": str(ports["temporal-metrics"]),
                "TEMPORAL_MEMBERSHIP_PORT": str(ports["temporal-membership"]),
                "TEMPORAL_NAMESPACE": NAMESPACE,
            },
        )
        self._start_keycloak()
        self._wait("Kafka", lambda: port_open(ports["kafka"]))
        setup = self._run(
            "kafka-setup",
            LOKET_IMAGE,
            self._loket_env("admin"),
            command=["loket", "kafka-setup"],
        )
        self._wait_exit(setup, "kafka-setup")
        self._wait("Temporal", self._temporal_ready)
        for name in SERVICES:
            self._run(name, LOKET_IMAGE, self._loket_env(name), ["loket", "service", name])
        for name in SERVICES:
            self._wait(name, self._ready_file(name))
        self._wait("Keycloak", lambda: kc.realm_ready(ports["keycloak"]))
        env = self._loket_env("gateway") | {
            "LOKET_GATEWAY_PORT": str(ports["gateway"]),
            "LOKET_OIDC_ISSUER": self.identity.issuer,
            "LOKET_OIDC_AUDIENCE": kc.AUDIENCE,
        }
        self._run("gateway", LOKET_IMAGE, env, ["loket", "service", "gateway"])
        self._wait("gateway", self._gateway_ready)

    def stop(self) -> None:
        for name in reversed(list(self.containers)):
            with contextlib.suppress(Exception):
                self.containers[name].stop()  # removes it, with its anonymous volumes
        self.containers.clear()

    def logs(self, name: str) -> str:
        out, err = self.containers[name].get_logs()
        return (out + err).decode(errors="replace")

    # ---- pieces ----------------------------------------------------------------------------

    def _run(
        self, name: str, image: str, env: dict[str, str], command: list[str] | None = None
    ) -> DockerContainer:
        container = DockerContainer(image).with_envs(**env).with_kwargs(network_mode="host")
        if command:
            container = container.with_command(command)
        if name == "keycloak":
            container = container.with_volume_mapping(
                str(REALM_FILE), "/opt/keycloak/data/import/loket-realm.json", "ro"
            )
        self.containers[name] = container
        container.start()
        return container

    def _start_keycloak(self) -> None:
        self._run(
            "keycloak",
            f"loket/keycloak:{kc.VERSION}",
            {
                "KC_DB_URL": f"jdbc:postgresql://127.0.0.1:{self.ports['postgres']}/keycloak",
                "KC_DB_USERNAME": "postgres",
                "KC_DB_PASSWORD": self.pg_password,
                "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
                "KC_BOOTSTRAP_ADMIN_PASSWORD": self.credentials.admin_password,
                **self.credentials.env(),  # the realm file's placeholders
            },
            kc.start_args(self.ports["keycloak"]),
        )

    def _loket_env(self, name: str) -> dict[str, str]:
        env = {
            "LOKET_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "LOKET_TEMPORAL_ADDRESS": self.temporal_address,
            "LOKET_TEMPORAL_NAMESPACE": NAMESPACE,
            "LOKET_READY_FILE": "/var/lib/loket/ready",
            **self.secrets.env(name),
        }
        login = self.secrets.kafka_login(name)
        env |= {"LOKET_KAFKA_USER": login.username, "LOKET_KAFKA_PASSWORD": login.password}
        if name in WITH_DATABASE:
            env["DATABASE_URL"] = self.database_url(f"loket_{name}")
        for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            if os.environ.get(variable):  # the suite's own collector, if it has one
                env[variable] = os.environ[variable]
        return env

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        end = time.monotonic() + self.timeout_s
        while not ready():
            self._check_running()
            if time.monotonic() > end:
                raise TimeoutError(f"{what} not ready within {self.timeout_s:.0f}s")
            time.sleep(0.25)

    def _check_running(self) -> None:
        """A container that died while we wait fails the start now, with its log."""
        if time.monotonic() - self._last_check < 2:
            return
        self._last_check = time.monotonic()
        for name, container in self.containers.items():
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status == "exited" and name != "kafka-setup":
                raise RuntimeError(f"container {name} exited:\n{self.logs(name)[-3000:]}")

    def _wait_exit(self, container: DockerContainer, what: str) -> None:
        result = container.get_wrapped_container().wait(timeout=self.timeout_s)
        if result.get("StatusCode") != 0:
            raise RuntimeError(f"{what} failed:\n{self.logs(what)[-3000:]}")

    def _postgres_ready(self) -> bool:
        try:
            with psycopg.connect(self.database_url("loket_gateway"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _temporal_ready(self) -> bool:
        command = ["temporal", "operator", "namespace", "describe", "-n", NAMESPACE]
        command += ["--address", self.temporal_address]
        return self.containers["temporal"].exec(command).exit_code == 0

    def _ready_file(self, name: str) -> Callable[[], bool]:
        return lambda: (
            self.containers[name].exec(["test", "-f", "/var/lib/loket/ready"]).exit_code == 0
        )

    def _gateway_ready(self) -> bool:
        try:
            return httpx.get(self.gateway_url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
