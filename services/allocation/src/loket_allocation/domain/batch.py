"""Batch rounds (call cut-off): serve as many priority-weighted applications as capacity allows.

The round is an integer programme (round_model.py) solved with HiGHS through scipy. Only slots
that fit a need become variables, and each need keeps `spread` of them spread over its window
and the `least_asked` others the round asks least of (candidates.py), which bounds the model.
Its LP relaxation gives the round's `lp_bound`; that bounds the whole round only when the model
kept every slot that fits (`complete`);
the benchmark judges the result against the whole round's LP (round_model.full_lp_bound).
Large rounds turn the LP solution whole (HiGHS's MIP does not reach a good incumbent in
seconds at 10,000 applications): what the LP serves whole stays, the rest is placed by best fit
over every slot that fits, moving one held need aside where that makes room (packing.py). That
is a fixed amount of work, so the result does not depend on the clock. Small rounds are solved
exactly by the MIP. A country share cap holds in the LP and in every placement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from loket_contracts.messages import Need
from scipy.optimize import milp

from loket_allocation.domain.candidates import fitting_pairs
from loket_allocation.domain.model import Candidate, Choice
from loket_allocation.domain.packing import settle
from loket_allocation.domain.round_model import build


@dataclass(frozen=True)
class BatchRequest:
    application_id: str
    workplace_country: str
    needs: list[Need]
    weight: float = 1.0


@dataclass(frozen=True)
class RoundResult:
    served: dict[str, list[Choice]]  # application id → one choice per need
    objective: float
    lp_bound: float
    gap: float  # (lp_bound - objective) / lp_bound
    status: str
    solve_seconds: float
    variables: int
    constraints: int
    complete: bool = True  # every slot that fits a need was in the model


def solve_round(
    requests: list[BatchRequest],
    slots: list[Candidate],
    *,
    exempt_forms: frozenset[str] = frozenset(),
    country_share_cap: float | None = None,
    spread: int = 3,
    least_asked: int = 2,
    time_limit_s: float = 5.0,  # for the exact MIP of a small round only
    mip_gap: float = 0.005,
    exact_mip_max_variables: int = 20_000,
) -> RoundResult:
    t0 = time.perf_counter()
    every = fitting_pairs(requests, slots, exempt_forms)
    kept = every.kept(spread, least_asked, np.array([s.free_units for s in slots]))
    model = build(requests, slots, kept, country_share_cap)
    n_y, n, row = len(model.servable), model.variables, model.rows
    if n_y == 0:
        return RoundResult({}, 0.0, 0.0, 0.0, "nothing servable", time.perf_counter() - t0, 0, 0)
    cost, constraints, bounds = model.cost, model.constraints, model.bounds()
    relaxed = milp(cost, constraints=constraints, bounds=bounds, integrality=np.zeros(n))
    if relaxed.x is None:
        return RoundResult(
            {}, 0.0, float("nan"), 1.0, relaxed.message, time.perf_counter() - t0, n, row
        )
    lp_bound = -float(relaxed.fun)

    chosen_slots = settle(requests, slots, every, model, relaxed.x, country_share_cap)
    status = "LP, then best fit with moves"
    rounded = sum(requests[a].weight for a in chosen_slots)

    # An exact MIP when the model is small enough to finish in the time left.
    remaining = time_limit_s - (time.perf_counter() - t0)
    if n <= exact_mip_max_variables and remaining > 0.5:
        result = milp(
            cost,
            constraints=constraints,
            bounds=bounds,
            integrality=np.ones(n),
            options={"time_limit": remaining, "mip_rel_gap": mip_gap},
        )
        if result.x is not None and -float(result.fun) > rounded:
            picked = result.x > 0.5
            chosen_slots = {}
            y_col = model.y_col
            for j, (a, k, si, units) in enumerate(model.x_vars):
                if picked[n_y + j] and picked[y_col[a]]:
                    chosen_slots.setdefault(a, []).append((k, si, units))
            rounded, status = -float(result.fun), f"MIP: {result.message}"
    seconds = time.perf_counter() - t0
    served = {
        requests[a].application_id: [Choice(k, slots[si], units) for k, si, units in taken]
        for a, taken in chosen_slots.items()
    }
    objective = sum(requests[a].weight for a in chosen_slots)
    gap = (lp_bound - objective) / lp_bound if lp_bound > 0 else 0.0
    complete = len(kept) == len(every)
    if not complete:  # managers read the status next to the bound
        status += (
            f"; the bound is over the {spread + least_asked} slots kept a need, and the"
            " placement used every slot that fits, so the round may exceed it"
        )
    return RoundResult(served, objective, lp_bound, gap, status, seconds, n, row, complete)
