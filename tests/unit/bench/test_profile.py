"""bench.profile's reading of py-spy's stacks: parked threads are not work, and a sample counts
for the package that ran it and for every package it passed through."""

from __future__ import annotations

from pathlib import Path

from bench.profile import package, summarise

MAIN = "main (loket_gateway/__main__.py:64)"
SQL = "do_execute (sqlalchemy/engine/default.py:1192)"
RAW = f"""\
{MAIN};Session.execute (sqlalchemy/orm/session.py:2555);{SQL} 6
{MAIN};on_stage_changed (loket_gateway/listings.py:100) 2
{MAIN};BaseEventLoop._run_once (asyncio/base_events.py:1922) 2
_bootstrap (threading.py:1002);Condition.wait (threading.py:327) 90
"""


def test_a_frame_belongs_to_the_package_of_its_file() -> None:
    assert package(SQL) == "sqlalchemy"
    assert package("Condition.wait (threading.py:327)") == "threading"
    assert package("<module> (<frozen runpy>:198)") == "<frozen runpy>"


def test_shares_are_of_busy_samples_by_own_and_passed_through_package(tmp_path: Path) -> None:
    raw = tmp_path / "gateway.txt"
    raw.write_text(RAW)
    found = summarise(raw)
    assert found["busy_samples"] == 10  # the 90 parked samples are not work
    assert found["own_share_pct_by_package"] == {
        "sqlalchemy": 60.0,
        "loket_gateway": 20.0,
        "asyncio": 20.0,
    }
    assert found["inclusive_share_pct_by_package"]["loket_gateway"] == 100.0
    assert found["inclusive_share_pct_by_package"]["sqlalchemy"] == 60.0
    top = found["top_functions_own_share_pct"]
    assert top[SQL] == 60.0
