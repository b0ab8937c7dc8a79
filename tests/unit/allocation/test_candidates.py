"""A batch round's candidates: the vectorised search finds exactly the pairs `fits` allows,
in window order, and a need keeps its slots spread over the window, not its first ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from allocation_factories import T0, slot
from hypothesis import given, settings
from hypothesis import strategies as st
from loket_allocation.domain.batch import BatchRequest, solve_round
from loket_allocation.domain.candidates import fitting_pairs
from loket_allocation.domain.model import Candidate, fits
from loket_allocation.domain.round_model import full_lp_bound
from loket_contracts.messages import Need

COUNTRIES = ("FR", "DE", "PT")
TYPES = ("xray", "litho", "beam")
MODES = (("physical",), ("remote",), ("physical", "remote"))


@st.composite
def slots(draw: st.DrawFn) -> list[Candidate]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, 6))  # shared starts: the price decides
        out.append(
            replace(
                slot(
                    f"f{i % 4}",
                    draw(st.sampled_from(COUNTRIES)),
                    draw(st.sampled_from(TYPES)),
                    draw(st.integers(0, 4)),
                    day=start,
                    price=draw(st.sampled_from([500, 1000])),
                    sid=f"s{i}",
                    legal_form=draw(st.sampled_from([None, "ERIC"])),
                    days=draw(st.integers(1, 5)),
                ),
                access_modes=draw(st.sampled_from(MODES)),
            )
        )
    return out


@st.composite
def requests(draw: st.DrawFn) -> list[BatchRequest]:
    out = []
    for r in range(draw(st.integers(0, 6))):
        needs = []
        for _ in range(draw(st.integers(1, 3))):
            first = draw(st.integers(0, 6))
            needs.append(
                Need(
                    service_type=draw(st.sampled_from((*TYPES, "none"))),
                    units=draw(st.integers(1, 3)),
                    earliest_start=T0 + timedelta(days=first),
                    latest_end=T0 + timedelta(days=first + draw(st.integers(1, 10))),
                    access_mode=draw(st.sampled_from(("physical", "remote"))),
                )
            )
        out.append(BatchRequest(f"r{r}", draw(st.sampled_from(COUNTRIES)), needs))
    return out


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
    kept = fitting_pairs([BatchRequest("a", "PT", [need])], market, frozenset()).spread(4)
    assert [market[i].slot_id for i in kept.slot.tolist()] == ["d0", "d10", "d20", "d30"]


def test_a_round_that_kept_fewer_slots_than_fit_says_its_bound_is_its_own() -> None:
    """Twenty applicants want one unit each in one window of twenty one-unit slots. Keeping 4
    slots a need, the round's LP sees 4 slots; keeping them all, it sees the whole round."""
    market = [slot(f"f{d}", "FR", "xray", 1, day=d, sid=f"d{d}") for d in range(20)]
    need = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=30))
    reqs = [BatchRequest(f"a{i}", "PT", [need]) for i in range(20)]
    whole = full_lp_bound(reqs, market)
    narrow = solve_round(reqs, market, top_k=4, exact_mip_max_variables=0)
    wide = solve_round(reqs, market, top_k=20, exact_mip_max_variables=0)
    assert whole == 20
    assert not narrow.complete and narrow.lp_bound == 4 and len(narrow.served) < 20
    assert narrow.status.endswith("the bound is over the 4 slots kept a need")
    assert wide.complete and abs(wide.lp_bound - whole) < 1e-6 and len(wide.served) == 20
    assert "bound is over" not in wide.status


def test_what_the_model_left_out_is_still_offered_to_those_it_did_not_serve() -> None:
    """Keeping one slot a need, both applicants' model holds the early slot only: the LP serves
    one of them there, and the residual dive serves the other in the later slot."""
    market = [slot("fr", "FR", "xray", 1, day=0, sid="early"), slot("de", "DE", "xray", 1, day=9)]
    need = Need(service_type="xray", units=1, earliest_start=T0, latest_end=T0 + timedelta(days=20))
    reqs = [BatchRequest("a", "PT", [need]), BatchRequest("b", "PT", [need])]
    result = solve_round(reqs, market, top_k=1, exact_mip_max_variables=0)
    assert sorted(result.served) == ["a", "b"]
    assert sorted(cs[0].candidate.facility_id for cs in result.served.values()) == ["de", "fr"]


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
