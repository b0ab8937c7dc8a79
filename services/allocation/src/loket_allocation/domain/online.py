"""Online mode (continuous open call): first come, best fit, all or nothing.

For one application, choose one slot per need so that the bundle uses the fewest sites, ends
earliest and costs least at market value, honouring preferred sites, "B after A" order and the
transnational rule. A bounded beam search: a bundle has a handful of needs, each with a short
list of the best-ranked slots, so this is exact for typical bundles and fast for any.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loket_contracts.messages import Need

from loket_allocation.domain.model import (
    Allocation,
    Candidate,
    Choice,
    NoAllocation,
    fits,
    why_not,
)

TOP_K = 8  # slots considered per need
BEAM = 256  # partial bundles kept per step


@dataclass(frozen=True)
class _Partial:
    """A bundle chosen for the first needs, with its score kept as it grows (a partial is
    scored at every step of the beam; summing its whole bundle again each time cost more than
    the search)."""

    chosen: tuple[Candidate, ...] = ()
    taken: dict[tuple[str, str], int] = field(default_factory=dict)
    missed: int = 0  # preferred sites not honoured
    sites: frozenset[str] = frozenset()
    done: datetime = datetime.min
    value: Decimal = Decimal(0)

    def score(self) -> tuple[int, int, datetime, Decimal]:
        return (self.missed, len(self.sites), self.done, self.value)

    def grow(self, need: Need, c: Candidate) -> _Partial:
        taken = dict(self.taken)
        taken[c.key] = taken.get(c.key, 0) + need.units
        return _Partial(
            (*self.chosen, c),
            taken,
            self.missed
            + (bool(need.preferred_sites) and c.facility_id not in need.preferred_sites),
            self.sites | {c.facility_id},
            max(self.done, c.end) if self.chosen else c.end,  # (datetime.min is naive)
            self.value + c.market_price_eur * need.units,
        )


def best_fit(
    needs: list[Need],
    candidates: list[Candidate],
    workplace_country: str,
    exempt_forms: frozenset[str] = frozenset(),
) -> Allocation | NoAllocation:
    options: list[list[Candidate]] = []
    for need in needs:
        fitting = [c for c in candidates if fits(need, c, workplace_country, exempt_forms)]
        if not fitting:
            return NoAllocation(why_not(need, candidates, workplace_country, exempt_forms))
        # The TOP_K best, as sorted(...)[:TOP_K] would give them (ties in the given order).
        options.append(
            heapq.nsmallest(
                TOP_K,
                fitting,
                key=lambda c: (
                    bool(need.preferred_sites) and c.facility_id not in need.preferred_sites,
                    c.start,
                    c.market_price_eur,
                ),
            )
        )

    beam = [_Partial()]
    for index, need in enumerate(needs):
        grown: list[_Partial] = []
        for partial in beam:
            for c in options[index]:
                if partial.taken.get(c.key, 0) + need.units > c.free_units:
                    continue  # two needs of the bundle cannot share more than the slot has
                if need.after is not None and c.start < partial.chosen[need.after].end:
                    continue  # "B after A"
                grown.append(partial.grow(need, c))
        if not grown:
            return NoAllocation(
                f"no combination of free slots satisfies need {index + 1} ({need.service_type})"
                + (f" after need {need.after + 1}" if need.after is not None else "")
                + " together with the others"
            )
        grown.sort(key=_Partial.score)
        beam = grown[:BEAM]

    best = beam[0]
    missed, sites, done, value = best.score()
    places = sorted({f"{c.site} ({c.country})" for c in best.chosen})
    reason = (
        f"best fit: {sites} site(s) ({', '.join(places)}), done by {done:%Y-%m-%d}, "
        f"market value €{value:,.2f}"
    )
    if any(n.preferred_sites for n in needs):
        reason += (
            "; every preferred site honoured"
            if missed == 0
            else f"; {missed} preferred site(s) had no fitting free slot"
        )
    return Allocation(
        [Choice(i, c, n.units) for i, (n, c) in enumerate(zip(needs, best.chosen, strict=True))],
        reason,
    )
