"""Decision seals: made by the gateway for one application and one decision, checked against
the workflow's clock; anything else is refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from loket_contracts import seals

NOW = datetime(2027, 1, 1, tzinfo=UTC)
MINA = seals.Actor(subject="u-1", name="Mina", roles=["manager"])
KEY_A, KEY_B = b"a" * 32, b"b" * 32


@pytest.fixture(autouse=True)
def keys() -> Iterator[None]:
    seals.configure([KEY_A])
    yield
    seals.configure([])


def test_a_seal_names_its_actor_for_that_decision_only() -> None:
    token = seals.seal(MINA, "app-1", "review", NOW)
    assert seals.verify(token, "app-1", "review", NOW + timedelta(minutes=1)) == MINA
    assert seals.actor_of(token) == MINA
    for app, update in (("app-2", "review"), ("app-1", "cancel")):
        with pytest.raises(seals.InvalidSeal, match="another application or decision"):
            seals.verify(token, app, update, NOW)


def test_expired_missing_and_foreign_seals_are_refused() -> None:
    token = seals.seal(MINA, "app-1", "review", NOW)
    with pytest.raises(seals.InvalidSeal, match="expired"):
        seals.verify(token, "app-1", "review", NOW + seals.TTL + timedelta(seconds=1))
    with pytest.raises(seals.InvalidSeal, match="no seal"):
        seals.verify(None, "app-1", "review", NOW)
    seals.configure([KEY_B])
    with pytest.raises(seals.InvalidSeal, match="not the gateway's"):
        seals.verify(token, "app-1", "review", NOW)
    with pytest.raises(seals.InvalidSeal, match="unreadable"):
        seals.verify("x.y.z", "app-1", "review", NOW)


def test_keys_rotate_without_refusing_seals_in_flight() -> None:
    token = seals.seal(MINA, "app-1", "review", NOW)
    seals.configure([KEY_B, KEY_A])
    assert seals.verify(token, "app-1", "review", NOW) == MINA


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seals.configure([b"short"])
