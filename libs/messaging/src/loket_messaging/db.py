"""Engines and the unit of work. SQLite (embedded default) or PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, Table, event
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel

READ_ONLY = "loket_read_only"  # an execution option: the transaction only reads


def normalise_url(url: str) -> str:
    # One driver for PostgreSQL everywhere: psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sqlalchemy.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions are off).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock at BEGIN: read-check-write sequences (budgets, ledgers,
            # capacity) then cannot interleave across processes on SQLite. A read needs no
            # lock: WAL gives it a snapshot, and it never queues behind a writer.
            reads = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if reads else "BEGIN IMMEDIATE")

        return engine
    # Looked up at call time: telemetry's instrumentation wraps sqlalchemy.create_engine.
    return sqlalchemy.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@functools.cache
def insert_new(table: Table, key: str, dialect: str) -> PostgresInsert | SqliteInsert:
    """`INSERT … ON CONFLICT (key) DO NOTHING` for the session's dialect, built once: a row
    someone else inserted first is left as it is, with no savepoint and no failed statement.
    Building it per call cost more than running it (bench/outbox_path.py)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=[key])


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only unit of work may not write")


@contextmanager
def read_only(engine: Engine) -> Iterator[Session]:
    """One snapshot read. On SQLite it takes no write lock, so a request that only reads
    never waits for a consumer's or another request's write; writing in it is a bug."""
    with Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as session:
        event.listen(session, "before_flush", _refuse_writes)
        yield session  # closing returns the connection, which ends the read (not expiring rows)


def create_schema(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


AFTER_COMMIT = "loket.after_commit"


def after_commit(session: Session, job: Callable[[], None]) -> None:
    """Work that needs this transaction committed but must not hold it open (rendering a
    document, say). The runtime runs it after the commit, off the consumer's path; it is
    best effort: whatever it makes must be re-creatable from what was committed."""
    session.info.setdefault(AFTER_COMMIT, []).append(job)


def take_after_commit(session: Session) -> list[Callable[[], None]]:
    jobs: list[Callable[[], None]] = session.info.pop(AFTER_COMMIT, [])
    return jobs


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
