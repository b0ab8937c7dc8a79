"""Process settings from the environment; every Loket process reads the same names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    service: str
    kafka_bootstrap: str
    database_url: str
    temporal_address: str
    temporal_namespace: str
    data_dir: Path
    ready_file: Path | None

    @classmethod
    def from_env(cls, service: str) -> Settings:
        data_dir = Path(os.environ.get("LOKET_DATA_DIR", ".loket")).resolve()
        default_db = f"sqlite:///{data_dir / (service + '.db')}"
        ready = os.environ.get("LOKET_READY_FILE")
        return cls(
            service=service,
            kafka_bootstrap=os.environ.get("LOKET_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            database_url=os.environ.get("DATABASE_URL", default_db),
            temporal_address=os.environ.get("LOKET_TEMPORAL_ADDRESS", "127.0.0.1:17233"),
            temporal_namespace=os.environ.get("LOKET_TEMPORAL_NAMESPACE", "loket"),
            data_dir=data_dir,
            ready_file=Path(ready) if ready else None,
        )

    @classmethod
    def local(cls, data_dir: Path, service: str, kafka_bootstrap: str) -> Settings:
        """A throwaway process (tests, benchmarks): its own SQLite file in `data_dir`, no
        Temporal, no readiness file."""
        return cls(
            service=service,
            kafka_bootstrap=kafka_bootstrap,
            database_url=f"sqlite:///{data_dir / (service + '.db')}",
            temporal_address="",
            temporal_namespace="",
            data_dir=data_dir,
            ready_file=None,
        )

    def mark_ready(self) -> None:
        """Tell the launcher this process serves (consumers joined, HTTP bound...)."""
        if self.ready_file is not None:
            self.ready_file.parent.mkdir(parents=True, exist_ok=True)
            self.ready_file.write_text(str(os.getpid()))
