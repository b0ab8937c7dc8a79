"""Online best fit: transnational, all or nothing, fewest sites, earliest, cheapest, order."""

from __future__ import annotations

from allocation_factories import need, slot
from loket_allocation.domain.model import Allocation, NoAllocation
from loket_allocation.domain.online import best_fit


def chosen(result: Allocation | NoAllocation) -> list[str]:
    assert isinstance(result, Allocation), result
    return [f"{c.candidate.facility_id}/{c.candidate.slot_id}" for c in result.choices]


def test_never_books_in_the_applicants_own_country() -> None:
    result = best_fit([need("xray", 2)], [slot("home", "PT", "xray", 10)], "PT")
    assert isinstance(result, NoAllocation)
    assert "only offered in PT" in result.reason


def test_eric_in_the_applicants_country_is_allowed_when_the_scheme_exempts_it() -> None:
    eric = [slot("eric", "PT", "xray", 10, legal_form="ERIC")]
    assert isinstance(best_fit([need("xray", 2)], eric, "PT"), NoAllocation)
    assert chosen(best_fit([need("xray", 2)], eric, "PT", frozenset({"ERIC"}))) == ["eric/s1"]


def test_earliest_then_cheapest_abroad_with_the_reason_stated() -> None:
    cands = [
        slot("late", "FR", "xray", 10, day=9),
        slot("dear", "DE", "xray", 10, price=5000),
        slot("cheap", "ES", "xray", 10, price=900),
    ]
    result = best_fit([need("xray", 2)], cands, "PT")
    assert chosen(result) == ["cheap/s1"]
    assert isinstance(result, Allocation)
    assert "1 site(s)" in result.reason and "€1,800.00" in result.reason


def test_fewest_sites_beats_earliest_dates() -> None:
    cands = [
        slot("fr", "FR", "xray", 5, day=0),
        slot("fr", "FR", "litho", 5, day=5, sid="s2"),
        slot("be", "BE", "litho", 5, day=0),
    ]
    assert chosen(best_fit([need("xray", 1), need("litho", 1)], cands, "PT")) == ["fr/s1", "fr/s2"]


def test_bundle_is_all_or_nothing() -> None:
    result = best_fit([need("xray", 2), need("litho", 5)], [slot("fr", "FR", "xray", 10)], "PT")
    assert isinstance(result, NoAllocation) and "litho" in result.reason


def test_two_needs_cannot_share_more_units_than_a_slot_has() -> None:
    cands = [slot("fr", "FR", "xray", 3)]
    assert isinstance(best_fit([need("xray", 2), need("xray", 2)], cands, "PT"), NoAllocation)
    assert chosen(best_fit([need("xray", 2), need("xray", 1)], cands, "PT")) == ["fr/s1"] * 2


def test_b_after_a_is_respected() -> None:
    cands = [
        slot("fr", "FR", "prep", 5, day=3),
        slot("de", "DE", "xray", 5, day=0),
        slot("de", "DE", "xray", 5, day=6, sid="s2"),
    ]
    result = best_fit([need("prep", 1), need("xray", 1, after=0)], cands, "PT")
    assert chosen(result) == ["fr/s1", "de/s2"]  # the earlier xray slot starts before prep ends


def test_preferred_site_wins_when_it_has_room() -> None:
    cands = [slot("cheap", "ES", "xray", 5, price=500), slot("liked", "FR", "xray", 5, day=4)]
    result = best_fit([need("xray", 1, preferred_sites=["liked"])], cands, "PT")
    assert chosen(result) == ["liked/s1"]
    assert isinstance(result, Allocation) and "every preferred site honoured" in result.reason


def test_two_country_bundle() -> None:
    cands = [slot("fr", "FR", "xray", 5), slot("be", "BE", "litho", 50)]
    result = best_fit([need("xray", 2), need("litho", 20)], cands, "AT")
    assert isinstance(result, Allocation)
    assert {c.candidate.country for c in result.choices} == {"FR", "BE"}


def test_a_preferred_site_without_room_costs_less_than_two() -> None:
    cands = [
        slot("liked", "FR", "xray", 1),  # preferred, but one unit free where two are needed
        slot("cheap", "ES", "xray", 5, price=500),
        slot("early", "DE", "litho", 5, price=500),
        slot("liked2", "BE", "litho", 5, day=4),
    ]
    needs = [
        need("xray", 2, preferred_sites=["liked"]),
        need("litho", 1, preferred_sites=["liked2"]),
    ]
    result = best_fit(needs, cands, "PT")
    assert chosen(result) == ["cheap/s1", "liked2/s1"]  # one preference missed, not two
    assert isinstance(result, Allocation)
    assert "1 preferred site(s) had no fitting free slot" in result.reason
