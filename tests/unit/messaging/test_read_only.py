"""A read-only unit of work: it sees what was committed, takes no write lock on SQLite (a
request that only reads does not queue behind a consumer's write), and refuses to write."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from loket_messaging.db import create_schema, make_engine, read_only, unit_of_work
from sqlalchemy import Engine
from sqlmodel import Field, SQLModel, select

HOLD_S = 120  # a bound only: the writer lets go as soon as the read is done


class Shelf(SQLModel, table=True):
    __tablename__ = "read_only_shelf"
    name: str = Field(primary_key=True, max_length=40)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    found = make_engine(f"sqlite:///{tmp_path / 'shelf.db'}")
    create_schema(found)
    with unit_of_work(found) as session:
        session.add(Shelf(name="committed"))
    yield found
    found.dispose()


def test_a_read_does_not_wait_for_a_writer_holding_the_lock(engine: Engine) -> None:
    locked, read_done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with unit_of_work(engine) as session:
                session.add(Shelf(name="uncommitted"))
                session.flush()  # BEGIN IMMEDIATE was taken: the write lock is held
                locked.set()
                read_done.wait(HOLD_S)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            locked.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert locked.wait(HOLD_S)
        # With BEGIN IMMEDIATE this read waited for the writer's whole transaction (here it
        # would fail with "database is locked" after the 30 s busy timeout).
        with read_only(engine) as session:
            names = set(session.scalars(select(Shelf.name)).all())
        assert names == {"committed"}  # a snapshot: the writer's row is not committed yet
    finally:
        read_done.set()
        thread.join(HOLD_S)
    assert not failures
    with read_only(engine) as session:
        assert set(session.scalars(select(Shelf.name)).all()) == {"committed", "uncommitted"}


def test_rows_read_stay_readable_after_the_unit_of_work(engine: Engine) -> None:
    with read_only(engine) as session:
        row = session.get(Shelf, "committed")
    assert row is not None and row.name == "committed"


def test_a_write_in_a_read_only_unit_of_work_is_refused(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="read-only"), read_only(engine) as session:
        session.add(Shelf(name="sneaked"))
        session.flush()
    with read_only(engine) as session:
        assert session.get(Shelf, "sneaked") is None
