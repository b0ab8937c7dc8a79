"""The facility SDK's plan: validated against the contract, sequences on disk, re-runs send
nothing, a changed slot goes out again with the next sequence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from loket_client import facility as sdk
from pydantic import ValidationError

FILE: dict[str, Any] = {
    "facility_id": "fac-se-maxiv",
    "profile": {
        "name": "MAX IV NanoMAX",
        "site": "Lund",
        "country": "SE",
        "kind": "RI",
        "offerings": [
            {
                "offering_id": "o1",
                "service_type": "xray.nanoprobe",
                "unit": "shift",
                "market_price_eur": 3800,
                "access_modes": ["physical", "remote"],
            }
        ],
    },
    "slots": [
        {"slot_id": "s1", "offering_id": "o1", "start": "2027-05-03T08:00:00Z",
         "end": "2027-05-06T08:00:00Z", "capacity_units": 9},
        {"slot_id": "s2", "offering_id": "o1", "start": "2027-06-07T08:00:00Z",
         "end": "2027-06-10T08:00:00Z", "capacity_units": 9},
    ],
}  # fmt: skip


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOKET_HOME", str(tmp_path / "home"))
    return tmp_path


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "facility.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_rerun_publishes_nothing_and_a_change_gets_the_next_sequence(tmp_path: Path) -> None:
    facility_id, items = sdk.read(write(tmp_path, FILE))
    ledger = sdk.Ledger.load(facility_id)
    first = sdk.plan(facility_id, items, ledger)
    assert [(p.item.key, p.body.sequence) for p in first] == [  # type: ignore[attr-defined]
        ("profile", 1), ("slot:s1", 2), ("slot:s2", 3)
    ]  # fmt: skip
    sent: list[str] = []
    sdk.publish(facility_id, first, ledger, lambda p: sent.append(p.item.key))
    again = sdk.Ledger.load(facility_id)
    assert (again.sequence, sdk.plan(facility_id, items, again)) == (3, [])

    changed = {**FILE, "slots": [FILE["slots"][0], {**FILE["slots"][1], "capacity_units": 4}]}
    _, items = sdk.read(write(tmp_path, changed))
    [only] = sdk.plan(facility_id, items, again)
    assert (only.item.key, only.body.sequence) == ("slot:s2", 4)  # type: ignore[attr-defined]


def test_a_failure_half_way_resumes_where_it_stopped(tmp_path: Path) -> None:
    facility_id, items = sdk.read(write(tmp_path, FILE))
    ledger = sdk.Ledger.load(facility_id)

    def broker_goes_away(p: sdk.Planned) -> None:
        if p.item.key == "slot:s2":
            raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        sdk.publish(facility_id, sdk.plan(facility_id, items, ledger), ledger, broker_goes_away)
    rest = sdk.plan(facility_id, items, sdk.Ledger.load(facility_id))
    assert [(p.item.key, p.body.sequence) for p in rest] == [("slot:s2", 3)]  # type: ignore[attr-defined]


def test_invalid_events_are_refused_before_anything_leaves(tmp_path: Path) -> None:
    bad = {**FILE, "slots": [{**FILE["slots"][0], "capacity_units": -3}]}
    facility_id, items = sdk.read(write(tmp_path, bad))
    with pytest.raises(ValidationError, match="capacity_units"):
        sdk.plan(facility_id, items, sdk.Ledger.load(facility_id))
    with pytest.raises(ValueError, match="unknown section"):
        sdk.read(write(tmp_path, {**FILE, "slotz": []}))
    with pytest.raises(ValueError, match="which facility"):
        sdk.read(write(tmp_path, {"slots": []}))


def test_a_csv_of_slots(tmp_path: Path) -> None:
    path = tmp_path / "slots.csv"
    path.write_text(
        "slot_id,offering_id,start,end,capacity_units\n"
        "s9,o1,2027-07-01T08:00:00Z,2027-07-02T08:00:00Z,3\n"
    )
    facility_id, items = sdk.read(path, "fac-se-maxiv")
    [planned] = sdk.plan(facility_id, items, sdk.Ledger.load(facility_id))
    assert (planned.item.kind, planned.body.capacity_units) == ("slots", 3)  # type: ignore[attr-defined]
