"""Placing a round's applications whole: best fit keeps the larger gaps for larger needs, a
held need moves aside to make room, a placement that fails leaves the market as it was, and
whatever a round serves fits: every need once, in a slot that fits it, within its free units."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
from allocation_factories import T0, requests, slot, slots
from hypothesis import given, settings
from hypothesis import strategies as st
from loket_allocation.domain.batch import BatchRequest, solve_round
from loket_allocation.domain.candidates import fitting_pairs
from loket_allocation.domain.model import Candidate, fits
from loket_allocation.domain.packing import CountryCaps, Market
from loket_contracts.messages import Need


def need(units: int, first: int = 0, last: int = 20) -> Need:
    return Need(
        service_type="xray",
        units=units,
        earliest_start=T0 + timedelta(days=first),
        latest_end=T0 + timedelta(days=last),
    )


def market_of(
    reqs: list[BatchRequest], market: list[Candidate], cap: float | None = None
) -> Market:
    return Market(
        fitting_pairs(reqs, market, frozenset()),
        np.array([s.free_units for s in market]),
        {a: len(r.needs) for a, r in enumerate(reqs)},
        None if cap is None else CountryCaps.of(reqs, market, cap),
    )


def test_best_fit_keeps_the_larger_gap_for_the_larger_need() -> None:
    """One unit goes to the slot with one free, so the three-unit need still finds three."""
    market = [slot("fr", "FR", "xray", 3, sid="three"), slot("de", "DE", "xray", 1, sid="one")]
    reqs = [BatchRequest("small", "PT", [need(1)]), BatchRequest("large", "PT", [need(3)])]
    m = market_of(reqs, market)
    assert m.place(0) and m.place(1)
    assert [market[si].slot_id for _, si, _ in m.chosen[0]] == ["one"]


def test_a_held_need_moves_aside_to_make_room() -> None:
    """ "early" holds a one-unit need that also fits "late"; a two-unit need that fits only
    "early" finds no room until that need moves."""
    market = [
        slot("fr", "FR", "xray", 2, day=0, sid="early"),
        slot("de", "DE", "xray", 1, day=10, sid="late"),
    ]
    reqs = [BatchRequest("held", "PT", [need(1)]), BatchRequest("new", "PT", [need(2, last=5)])]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 1)])  # in "early"
    assert not m.place(1)
    assert m.place(1, moves=True)
    assert [market[si].slot_id for _, si, _ in m.chosen[0]] == ["late"]
    assert [market[si].slot_id for _, si, _ in m.chosen[1]] == ["early"]
    assert m.free.tolist() == [0, 0]


def test_no_move_is_made_that_would_not_make_enough_room() -> None:
    """Two one-unit needs hold "early", which has one unit left; moving one of them (a need
    gets one move) frees two units, and the new need asks three."""
    market = [
        slot("fr", "FR", "xray", 3, day=0, sid="early"),
        slot("de", "DE", "xray", 5, day=10, sid="late"),
    ]
    reqs = [
        BatchRequest("one", "PT", [need(1)]),
        BatchRequest("two", "PT", [need(1)]),
        BatchRequest("new", "PT", [need(3, last=5)]),
    ]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 1)])
    m.hold(1, [(0, 0, 1)])
    assert not m.place(2, moves=True)
    assert m.chosen == {0: [(0, 0, 1)], 1: [(0, 0, 1)]} and m.free.tolist() == [1, 5]


def test_a_placement_that_fails_leaves_the_market_as_it_was() -> None:
    """The first need gets room by a move; the second finds none: the move is undone."""
    market = [
        slot("fr", "FR", "xray", 2, day=0, sid="early"),
        slot("de", "DE", "xray", 1, day=10, sid="late"),
    ]
    reqs = [
        BatchRequest("held", "PT", [need(1)]),
        BatchRequest("new", "PT", [need(2, last=5), need(3)]),
    ]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 1)])
    assert not m.place(1, moves=True)
    assert m.chosen == {0: [(0, 0, 1)]} and m.free.tolist() == [1, 1]
    assert m.roomy(0, 0) == 2 and m.roomy(1, 0) == 0


def test_a_need_that_could_move_again_is_moved_after_a_placement_fails() -> None:
    """ "held" sits in "early" and could move to "late". A two-need application takes "late"
    for a moment and then fails (its second need fits nowhere): "late" has room again, so a
    need that fits only "early" still gets it by moving "held" there."""
    market = [
        slot("fr", "FR", "xray", 2, day=0, sid="early"),
        slot("de", "DE", "xray", 2, day=10, sid="late"),
    ]
    reqs = [
        BatchRequest("held", "PT", [need(2)]),
        BatchRequest("fails", "PT", [need(2, first=5), need(3)]),
        BatchRequest("new", "PT", [need(2, last=5)]),
    ]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 2)])  # in "early"
    assert not m.place(1, moves=True)
    assert m.place(2, moves=True)
    assert [market[si].slot_id for _, si, _ in m.chosen[0]] == ["late"]
    assert [market[si].slot_id for _, si, _ in m.chosen[2]] == ["early"]


def test_a_slot_where_nothing_could_move_is_searched_again_once_room_changes() -> None:
    """ "held" sits in "early" and could move only to "mid", which "blocker" fills. A need that
    fits only "early" fails. Then a need that fits only "mid" moves "blocker" on to "late" and
    leaves a unit in "mid": now "held" can move, and the first need, tried again, gets in."""
    market = [
        slot("fr", "FR", "xray", 2, day=0, sid="early"),
        slot("de", "DE", "xray", 2, day=10, sid="mid"),
        slot("it", "IT", "xray", 2, day=15, sid="late"),
    ]
    reqs = [
        BatchRequest("held", "PT", [need(1, last=12)]),
        BatchRequest("blocker", "PT", [need(2, first=5)]),
        BatchRequest("early only", "PT", [need(2, last=5)]),
        BatchRequest("mid only", "PT", [need(1, first=5, last=12)]),
    ]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 1)])  # in "early"
    m.hold(1, [(0, 1, 2)])  # in "mid"
    assert not m.place(2, moves=True)
    assert m.place(3, moves=True)
    assert m.place(2, moves=True)
    where = {reqs[a].application_id: market[t[0][1]].slot_id for a, t in m.chosen.items()}
    assert where == {"held": "mid", "blocker": "late", "early only": "early", "mid only": "mid"}


def test_a_need_that_arrives_at_a_slot_where_nothing_could_move_can_move_on() -> None:
    """ "stuck" fits only "early", so a two-unit need there fails. "mover" then best-fits the
    unit left in "early"; it could go on to "late", so a one-unit need gets "early" by moving it."""
    market = [
        slot("fr", "FR", "xray", 3, day=0, sid="early"),
        slot("de", "DE", "xray", 2, day=10, sid="late"),
    ]
    reqs = [
        BatchRequest("stuck", "PT", [need(2, last=5)]),
        BatchRequest("two", "PT", [need(2, last=5)]),
        BatchRequest("mover", "PT", [need(1)]),
        BatchRequest("one", "PT", [need(1, last=5)]),
    ]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 2)])
    assert not m.place(1, moves=True)
    assert m.place(2) and m.place(3, moves=True)
    where = {reqs[a].application_id: market[t[0][1]].slot_id for a, t in m.chosen.items()}
    assert where == {"stuck": "early", "mover": "late", "one": "early"}


def test_a_move_too_small_for_one_need_is_still_made_for_a_smaller_one() -> None:
    """Moving "small" on to "late" frees one unit in "early": not room for three, but for two."""
    market = [
        slot("fr", "FR", "xray", 3, day=0, sid="early"),
        slot("de", "DE", "xray", 1, day=10, sid="late"),
    ]
    reqs = [
        BatchRequest("small", "PT", [need(1)]),
        BatchRequest("stuck", "PT", [need(1, last=5)]),
        BatchRequest("three", "PT", [need(3, last=5)]),
        BatchRequest("two", "PT", [need(2, last=5)]),
    ]
    m = market_of(reqs, market)
    m.hold(0, [(0, 0, 1)])
    m.hold(1, [(0, 0, 1)])
    assert not m.place(2, moves=True)
    assert m.place(3, moves=True)
    assert [market[si].slot_id for _, si, _ in m.chosen[0]] == ["late"]


@settings(max_examples=200, deadline=None)
@given(slots(), requests(), st.booleans())
def test_the_market_keeps_its_books_straight(
    market: list[Candidate], reqs: list[BatchRequest], moves: bool
) -> None:
    """After any sequence of placements, free units, holders and the per-need room counts
    agree with what is held."""
    m = market_of(reqs, market)
    for a in range(len(reqs)):
        m.place(a, moves=moves)
    held = Counter[int]()
    for a, taken in m.chosen.items():
        assert sorted(k for k, _, _ in taken) == list(range(len(reqs[a].needs)))
        for k, si, units in taken:
            assert fits(reqs[a].needs[k], market[si], reqs[a].workplace_country, frozenset())
            held[si] += units
            assert (a, k, units) in m.holders[si]
    assert m.free.tolist() == [s.free_units - held[i] for i, s in enumerate(market)]
    assert (m.free >= 0).all()
    assert sum(len(h) for h in m.holders.values()) == sum(len(t) for t in m.chosen.values())
    for a, req in enumerate(reqs):
        for k, n in enumerate(req.needs):
            if len(m.options(a, k)):
                assert m.roomy(a, k) == int((m.free[m.options(a, k)] >= n.units).sum())


@settings(max_examples=300, deadline=None)
@given(
    slots(),
    requests(),
    st.sampled_from([frozenset(), frozenset({"ERIC"})]),
    st.sampled_from([None, 0.25, 0.5]),
)
def test_a_round_serves_only_what_fits(
    market: list[Candidate],
    reqs: list[BatchRequest],
    exempt: frozenset[str],
    cap: float | None,
) -> None:
    """Every need once, in a slot that fits it, within the slot's free units and, with a
    country share cap, within each country's share of each facility."""
    result = solve_round(
        reqs,
        market,
        exempt_forms=exempt,
        country_share_cap=cap,
        spread=1,
        least_asked=1,
        exact_mip_max_variables=0,
    )
    used = Counter[str]()
    shares = Counter[tuple[str, str]]()
    by_id = {r.application_id: r for r in reqs}
    for app, choices in result.served.items():
        req = by_id[app]
        assert sorted(c.need_index for c in choices) == list(range(len(req.needs)))
        for c in choices:
            assert fits(req.needs[c.need_index], c.candidate, req.workplace_country, exempt)
            assert c.units == req.needs[c.need_index].units
            used[c.candidate.slot_id] += c.units
            shares[(c.candidate.facility_id, req.workplace_country)] += c.units
    assert all(used[s.slot_id] <= s.free_units for s in market)
    capacity = Counter[str]()
    for s in market:
        capacity[s.facility_id] += s.free_units
    if cap is not None:
        assert all(n <= cap * capacity[f] + 1e-9 for (f, _), n in shares.items())
    assert result.objective == sum(by_id[a].weight for a in result.served)


def test_a_move_that_leaves_the_country_cap_shut_is_taken_back() -> None:
    """Facilities fr and de have 4 units each, so each country may take 2 at each. "pt" holds
    Portugal's 2 at fr in slot "b", "es" holds 2 in "a", and a new Portuguese need of 1 unit
    fits only fr's slots. Moving "es" to "late" frees room in "a" but not Portugal's share of
    fr, so that move is taken back; moving "pt" to "late" frees both, and the new need takes
    "b"."""
    market = [
        slot("fr", "FR", "xray", 2, day=0, sid="a"),
        slot("fr", "FR", "xray", 2, day=0, sid="b"),
        slot("de", "DE", "xray", 4, day=10, sid="late"),
    ]
    reqs = [
        BatchRequest("pt", "PT", [need(2)]),
        BatchRequest("es", "ES", [need(2)]),
        BatchRequest("new", "PT", [need(1, last=5)]),
    ]
    m = market_of(reqs, market, cap=0.5)
    m.hold(0, [(0, 1, 2)])  # pt in "b"
    m.hold(1, [(0, 0, 2)])  # es in "a"
    assert m.place(2, moves=True)
    assert m.chosen == {0: [(0, 2, 2)], 1: [(0, 0, 2)], 2: [(0, 1, 1)]}
    assert m.free.tolist() == [0, 1, 2]
