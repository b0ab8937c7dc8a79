"""Batch rounds: the solver serves more weighted demand than first come, respects capacity
and the fairness cap, and reports its LP bound and gap."""

from __future__ import annotations

from datetime import timedelta

from allocation_factories import T0, slot
from loket_allocation.domain.batch import BatchRequest, solve_round
from loket_contracts.messages import Need


def request(app: str, country: str, *needs: tuple[str, int], weight: float = 1) -> BatchRequest:
    return BatchRequest(
        app,
        country,
        [
            Need(service_type=t, units=u, earliest_start=T0, latest_end=T0 + timedelta(days=9))
            for t, u in needs
        ],
        weight,
    )


def test_optimal_round_beats_first_come() -> None:
    # First come would give the 4 xray units to "greedy" and serve one application; the round
    # serves "a" and "b" (weight 2) instead.
    slots = [slot("fr", "FR", "xray", 4), slot("be", "BE", "litho", 2)]
    reqs = [
        request("greedy", "PT", ("xray", 4)),
        request("a", "PT", ("xray", 2), ("litho", 1)),
        request("b", "AT", ("xray", 2), ("litho", 1)),
    ]
    result = solve_round(reqs, slots)
    assert sorted(result.served) == ["a", "b"]
    assert result.objective == 2 and abs(result.lp_bound - 2) < 1e-6 and result.gap < 1e-9


def test_weights_decide_who_is_served() -> None:
    slots = [slot("fr", "FR", "xray", 2)]
    result = solve_round(
        [request("low", "PT", ("xray", 2)), request("high", "PT", ("xray", 2), weight=3)], slots
    )
    assert list(result.served) == ["high"]


def test_capacity_and_transnational_rule_hold() -> None:
    slots = [slot("fr", "FR", "xray", 3), slot("pt", "PT", "xray", 10)]
    reqs = [request(f"r{i}", "PT", ("xray", 1)) for i in range(5)]
    result = solve_round(reqs, slots)
    used = sum(c.units for choices in result.served.values() for c in choices)
    assert used == 3  # the Portuguese slot is never given to Portuguese applicants
    assert all(c.candidate.country == "FR" for cs in result.served.values() for c in cs)


def test_country_share_cap_spreads_a_facility_across_countries() -> None:
    slots = [slot("fr", "FR", "xray", 4)]
    reqs = [request(f"pt{i}", "PT", ("xray", 1)) for i in range(4)] + [
        request("at", "AT", ("xray", 1))
    ]
    capped = solve_round(reqs, slots, country_share_cap=0.5)
    portuguese = [a for a in capped.served if a.startswith("pt")]
    assert len(portuguese) == 2 and "at" in capped.served


def test_a_round_serves_the_same_whatever_the_clock_says() -> None:
    """A large round (the LP, then best fit with moves) does a fixed amount of work: no time
    left changes nothing about who is served."""
    slots = [slot(f"s{i}", ("FR", "DE", "SE")[i % 3], "xray", 2 + i % 3) for i in range(30)]
    reqs = [
        request(f"r{i}", ("PT", "AT")[i % 2], ("xray", 1 + i % 3), weight=1 + i % 4)
        for i in range(60)
    ]
    plenty = solve_round(reqs, slots, exact_mip_max_variables=0, time_limit_s=60)
    none_left = solve_round(reqs, slots, exact_mip_max_variables=0, time_limit_s=0)
    assert plenty.served.keys() == none_left.served.keys()
    assert plenty.status == none_left.status
    assert plenty.status.startswith("LP, then best fit with moves")
