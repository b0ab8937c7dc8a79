"""What an embedded stack runs with: broker, ports, databases, shortened lifecycle durations,
identity provider and limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from loket_infra.identities import IdentityProvider
from loket_infra.processes import READY_DEADLINE_S, free_port


@dataclass
class StackConfig:
    data_dir: Path = Path(".loket")
    # Apache Kafka keeps its log on disk; tansu (LOKET_KAFKA=tansu) keeps it in memory only.
    kafka: str = field(default_factory=lambda: os.environ.get("LOKET_KAFKA", "apache"))
    kafka_port: int = 0  # 0: a free port
    temporal_port: int = 0
    temporal_ui_port: int = 0
    gateway_port: int = 0
    ui: bool = False
    fresh: bool = True  # wipe data_dir first
    # Per-service DATABASE_URL; services not listed use SQLite files in data_dir.
    database_urls: dict[str, str] = field(default_factory=dict)
    # Lifecycle durations shorter than the scheme's (days, months), for demos and tests.
    acceptance_window_s: int | None = None
    review_escalation_s: int | None = None
    voucher_validity_s: int | None = None
    access_report_s: int | None = None
    # No answer to a command within this: the workflow sends it again (default: a minute).
    resend_after_s: int | None = None
    stuck_notice_s: int | None = None
    # The OIDC provider: None starts a Keycloak of the stack's own; tests share one.
    identity: IdentityProvider | None = None
    keycloak_port: int = 0
    # Writes per principal at the gateway (default there: 120 a minute, bursts of 60).
    writes_per_minute: int | None = None
    write_burst: int | None = None
    start_timeout_s: float = READY_DEADLINE_S
    # More environment for every Loket process: the OTEL_* variables of telemetry, say.
    env: dict[str, str] = field(default_factory=dict)

    def resolve_ports(self) -> None:
        for name in (
            "kafka_port",
            "temporal_port",
            "temporal_ui_port",
            "gateway_port",
            "keycloak_port",
        ):
            if getattr(self, name) == 0:
                setattr(self, name, free_port())
