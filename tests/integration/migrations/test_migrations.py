"""Each service's Alembic history, on SQLite and PostgreSQL: it builds exactly the schema the
code declares, and it upgrades a database of the previous schema version with its data intact
(including one made before migrations existed)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from loket_messaging.migrations import current, head, upgrade
from sqlalchemy import Engine, MetaData, inspect, text
from sqlmodel import SQLModel

from tests.integration.postgres import service_engine

# service package → the prefix of its own tables (besides the shared msg_ tables)
SERVICES = {
    "loket_eligibility": "elig_",
    "loket_charter": "charter_",
    "loket_vouchers": "vch_",
    "loket_allocation": "alloc_",
    "loket_gateway": "gw_",
}
for package in SERVICES:  # register every table model, as the services do at start
    importlib.import_module(
        f"{package}.adapters.tables" if package != "loket_gateway" else "loket_gateway.listings"
    )
importlib.import_module("loket_gateway.tables")
importlib.import_module("loket_gateway.audit")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with service_engine(request.param, tmp_path, "loket_mig") as eng:
        yield eng


def declared(prefix: str) -> MetaData:
    """The tables one service declares: the shared inbox/outbox and its own."""
    own = MetaData()
    for table in SQLModel.metadata.tables.values():
        if table.name.startswith(("msg_", prefix)):
            table.to_metadata(own)
    return own


@pytest.mark.parametrize("package", list(SERVICES))
def test_history_builds_the_declared_schema(engine: Engine, package: str) -> None:
    upgrade(engine, package)
    assert current(engine) == head(package)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), declared(SERVICES[package]))
    assert diff == []


OUTBOX_ROW = text(
    "INSERT INTO msg_outbox (event_id, topic, key, headers_json, body, created_at) "
    "VALUES ('e-1', 't.v1', 'k', '[]', :body, :at)"
)
INBOX_ROW = text(
    "INSERT INTO msg_inbox (event_id, event_type, topic, processed_at) "
    "VALUES ('in-1', 'x.v1', 't.v1', :at)"
)


@pytest.mark.parametrize("package", list(SERVICES))
@pytest.mark.parametrize("versioned", [True, False], ids=["at-0001", "before-migrations"])
def test_upgrade_from_the_previous_schema_keeps_the_data(
    engine: Engine, package: str, versioned: bool
) -> None:
    upgrade(engine, package, "0001")  # the schema as released before this version
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(OUTBOX_ROW, {"body": b'{"n":1}', "at": now})
        conn.execute(INBOX_ROW, {"at": now})
        if not versioned:  # as `create_all` left it, before Alembic was used
            conn.execute(text("DROP TABLE alembic_version"))
    upgrade(engine, package)
    assert current(engine) == head(package)
    columns = {c["name"] for c in inspect(engine).get_columns("msg_outbox")}
    assert {"caused_by", "failed_at", "failure_reason"} <= columns
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT event_id, body, caused_by, failed_at, published_at FROM msg_outbox")
        ).one()
        assert (row.event_id, bytes(row.body), row.caused_by, row.failed_at, row.published_at) == (
            "e-1",
            b'{"n":1}',
            None,
            None,
            None,
        )
        assert conn.execute(text("SELECT count(*) FROM msg_inbox")).scalar() == 1


@pytest.mark.parametrize(
    ("table", "row"),
    [
        (
            "gw_audit",
            "INSERT INTO gw_audit (at, subject, name, roles, action, method, path, status, "
            "request_id) VALUES (:at, 's', 'n', 'manager', 'open_call', 'POST', '/v1/calls', "
            "201, 'r-1')",
        ),
        (
            "gw_call_version",
            "INSERT INTO gw_call_version (call_id, version, changed_at, changed_by, reason, "
            "call_json) VALUES ('C-1', 1, :at, 'Mina Manager', 'opened', '{}')",
        ),
    ],
)
def test_records_are_append_only_in_the_database_itself(
    engine: Engine, table: str, row: str
) -> None:
    """The audit trail and a call's versions: inserted, never changed nor deleted, whatever
    the code asks (triggers from the gateway's migrations)."""
    upgrade(engine, "loket_gateway")
    with engine.begin() as conn:
        conn.execute(text(row), {"at": datetime.now(UTC)})
    for change in (f"UPDATE {table} SET changed_by = 'x'", f"DELETE FROM {table}"):
        change = change.replace("changed_by", "name") if table == "gw_audit" else change
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(change))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
