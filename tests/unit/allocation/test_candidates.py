"""A batch round's candidates: the vectorised search finds exactly the pairs `fits` allows,
in window order, and a need keeps its slots spread over the window, not its first ones."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from allocation_factories import T0, requests, slot, slots
from hypothesis import given, settings
from hypothesis import strategies as st
from loket_allocation.domain.batch import BatchRequest, solve_round
from loket_allocation.domain.candidates import fitting_pairs
from loket_allocation.domain.model import Candidate, fits
from loket_allocation.domain.round_model import full_lp_bound
from loket_contracts.messages import Need


@settings(max_examples=300, deadline=None)
@given(slots(), requests(), st.sampled_from([frozenset(), frozenset({"ERIC"})]))
def test_the_pairs_are_exactly_those_that_fit(
    market: list[Candidate], reqs: list[BatchRequest], exempt: frozenset[str]
) -> None:
    pairs = fitting_pairs(reqs, market, exempt)
    found = list(zip(pairs.request.tolist(), pairs.need.tolist(), pairs.slot.tolist(), strict=True))
    expected = [
        (r, k, i)
        for r, req in enumerate(reqs)
        for k, need in enumerate(req.needs)
        for i, s in sorted(
            enumerate(market), key=lambda e: (e[1].start, e[1].market_price_eur, e[0])
        )
        if fits(need, s, req.workplace_country, exempt)
    ]
    assert found == expected
    assert pairs.units.tolist() == [reqs[r].needs[k].units for r, k, _ in found]


def test_a_need_keeps_slots_spread_over_its_window() -> None:
    market = [slot("fr", "FR", "xray", 1, day=d, sid=f"d{d}") for d in range(40)]
    need = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=45))
    pairs = fitting_pairs([BatchRequest("a", "PT", [need])], market, frozenset())
    kept = pairs.kept(4, 0, np.ones(len(market)))
    assert [market[i].slot_id for i in kept.slot.tolist()] == ["d0", "d10", "d20", "d30"]


def test_needs_with_one_window_keep_different_slots() -> None:
    """Four applicants want the same window. Each keeps 4 slots spread over it, each from its
    own offset: together they keep 16 of the 40 slots, not the same 4 (which left most of the
    market outside the round's model)."""
    market = [slot("fr", "FR", "xray", 1, day=d, sid=f"d{d}") for d in range(40)]
    need = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=45))
    reqs = [BatchRequest(f"a{i}", "PT", [need]) for i in range(4)]
    kept = fitting_pairs(reqs, market, frozenset()).kept(4, 0, np.ones(len(market)))
    assert len(kept) == 16 and len(set(kept.slot.tolist())) == 16


def test_a_need_also_keeps_the_slots_the_round_asks_least_of() -> None:
    """Five applicants want a unit in the first week, one in either week. Spread alone, the
    latter may keep a slot of the crowded first week; it also keeps the quiet second week's
    first slot, which only it wants (so the model can serve all six)."""
    market = [slot("fr", "FR", "xray", 1, day=d, sid=f"d{d}") for d in range(10)]
    week = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=6))
    both = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=11))
    reqs = [BatchRequest(f"a{i}", "PT", [week]) for i in range(5)]
    reqs.append(BatchRequest("either", "PT", [both]))
    pairs = fitting_pairs(reqs, market, frozenset())
    free = np.array([s.free_units for s in market])
    spread = pairs.kept(1, 0, free)
    kept = pairs.kept(1, 1, free)
    alone = [market[i].slot_id for r, i in zip(spread.request, spread.slot, strict=True) if r == 5]
    theirs = [market[i].slot_id for r, i in zip(kept.request, kept.slot, strict=True) if r == 5]
    assert len(alone) == 1 and alone[0] in {f"d{d}" for d in range(5)}  # a crowded slot
    assert theirs == sorted([*alone, "d5"])
    assert len(kept) == len(spread) + 6  # one more for each need


def test_a_round_that_kept_fewer_slots_than_fit_says_its_bound_is_its_own() -> None:
    """Twenty applicants want one unit each in one window of twenty one-unit slots. Keeping 4
    slots a need, the round's LP misses some slots; keeping them all, it sees the whole round.
    Either way everyone is served: the placement uses every slot that fits."""
    market = [slot(f"f{d}", "FR", "xray", 1, day=d, sid=f"d{d}") for d in range(20)]
    need = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=30))
    reqs = [BatchRequest(f"a{i}", "PT", [need]) for i in range(20)]
    whole = full_lp_bound(reqs, market)
    narrow = solve_round(reqs, market, spread=4, least_asked=0, exact_mip_max_variables=0)
    wide = solve_round(reqs, market, spread=20, least_asked=0, exact_mip_max_variables=0)
    assert whole == 20
    assert not narrow.complete and narrow.lp_bound < whole and len(narrow.served) == 20
    assert narrow.objective > narrow.lp_bound and narrow.gap < 0  # the model's bound only
    assert "the bound is over the 4 slots kept a need" in narrow.status
    assert narrow.status.endswith("so the round may exceed it")
    assert wide.complete and abs(wide.lp_bound - whole) < 1e-6 and len(wide.served) == 20
    assert "bound is over" not in wide.status


def test_what_the_model_left_out_is_still_offered_to_those_it_did_not_serve() -> None:
    """Keeping one slot a need, applicants a and c both keep the early slot and b the middle
    one: the model's LP serves two. The late slot, which no need kept, still serves the third."""
    market = [
        slot("fr", "FR", "xray", 1, day=0, sid="early"),
        slot("be", "BE", "xray", 1, day=5, sid="middle"),
        slot("de", "DE", "xray", 1, day=9, sid="late"),
    ]
    need = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=20))
    reqs = [BatchRequest(name, "PT", [need]) for name in ("a", "b", "c")]
    result = solve_round(reqs, market, spread=1, least_asked=0, exact_mip_max_variables=0)
    assert result.lp_bound == 2
    assert sorted(result.served) == ["a", "b", "c"]
    assert sorted(cs[0].candidate.slot_id for cs in result.served.values()) == [
        "early",
        "late",
        "middle",
    ]


def test_a_window_sent_without_an_offset_is_read_as_utc_and_fits_stored_slots() -> None:
    """Slots come back from the database with their offset; a need's window may arrive without
    one. It is read as UTC, so comparing the two no longer raises (it did, in every mode)."""
    naive = Need.model_validate(
        {
            "service_type": "xray",
            "units": 1,
            "earliest_start": "2027-03-01T00:00:00",
            "latest_end": "2027-03-13T00:00:00",
        }
    )
    assert naive.earliest_start == T0 and naive.earliest_start.tzinfo is not None
    market = [slot("fr", "FR", "xray", 2)]
    assert fits(naive, market[0], "PT", frozenset())
    assert len(fitting_pairs([BatchRequest("a", "PT", [naive])], market, frozenset())) == 1
