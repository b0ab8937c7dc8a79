"""Batch rounds (call cut-off): serve as many priority-weighted applications as capacity allows.

The round is an integer programme (round_model.py) solved with HiGHS through scipy. Only slots
that fit a need become variables, and each need keeps `top_k` of them, spread over its window
(candidates.py), which bounds the model. Its LP relaxation gives the round's `lp_bound`; that
bounds the whole round only when no need had more than `top_k` slots that fit (`complete`);
the benchmark judges the result against the whole round's LP (round_model.full_lp_bound).
Large rounds are solved by rounding the LP solution (HiGHS's MIP does not reach a good
incumbent in seconds at 10,000 applications), one residual dive over what is left, and one
exchange pass (exchange.py); small ones exactly by the MIP.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
from loket_contracts.messages import Need
from scipy.optimize import milp

from loket_allocation.domain.candidates import fitting_pairs
from loket_allocation.domain.exchange import exchange
from loket_allocation.domain.model import Candidate, Choice
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
    top_k: int = 8,
    time_limit_s: float = 5.0,
    mip_gap: float = 0.005,
    exact_mip_max_variables: int = 20_000,
    dives: int = 1,
    exchanges: bool = True,
) -> RoundResult:
    t0 = time.perf_counter()
    every = fitting_pairs(requests, slots, exempt_forms)
    kept = every.spread(top_k)
    model = build(requests, slots, kept, country_share_cap)
    servable, x_vars, y_col = model.servable, model.x_vars, model.y_col
    n_y, n, row = len(servable), model.variables, model.rows
    fair_rows, capacity_at = model.fair_rows, model.capacity_at
    if n_y == 0:
        return RoundResult({}, 0.0, 0.0, 0.0, "nothing servable", time.perf_counter() - t0, 0, 0)
    cost, constraints, bounds = model.cost, model.constraints, model.bounds()
    relaxed = milp(cost, constraints=constraints, bounds=bounds, integrality=np.zeros(n))
    if relaxed.x is None:
        return RoundResult(
            {}, 0.0, float("nan"), 1.0, relaxed.message, time.perf_counter() - t0, n, row
        )
    lp_bound = -float(relaxed.fun)

    # LP rounding: applications the relaxation serves (most) first, each need on the slot the
    # relaxation uses most; then everyone else greedily, heaviest first.
    free = {si: float(s.free_units) for si, s in enumerate(slots)}
    fair_left = (
        {key: country_share_cap * capacity_at[key[0]] for key in fair_rows}
        if country_share_cap is not None
        else {}
    )
    ranked: dict[tuple[int, int], list[tuple[float, int, int]]] = defaultdict(list)
    for j, (a, k, si, units) in enumerate(x_vars):
        ranked[(a, k)].append((-relaxed.x[n_y + j], si, units))
    for opts in ranked.values():
        opts.sort()
    order = sorted(servable, key=lambda a: (-round(relaxed.x[y_col[a]], 6), -requests[a].weight))
    chosen_slots: dict[int, list[tuple[int, int, int]]] = {}
    for a in order:
        taken: list[tuple[int, int, int]] = []
        use: dict[int, float] = defaultdict(float)
        fair_use: dict[tuple[str, str], float] = defaultdict(float)
        for k in range(len(requests[a].needs)):
            for _, si, units in ranked[(a, k)]:
                key = (slots[si].facility_id, requests[a].workplace_country)
                if free[si] - use[si] < units:
                    continue
                if fair_left and fair_left[key] - fair_use[key] < units:
                    continue
                use[si] += units
                if fair_left:
                    fair_use[key] += units
                taken.append((k, si, units))
                break
            else:
                break
        if len(taken) == len(requests[a].needs):
            for si, amount in use.items():
                free[si] -= amount
            for key, amount in fair_use.items():
                fair_left[key] -= amount
            chosen_slots[a] = taken
    status = "LP rounding"
    # Dives: the unserved applications again, against the capacity left in every slot, those
    # the model left out too (each need kept only top_k). A fixed number of them, whatever the
    # clock says: the round's quality must not depend on the machine's luck.
    spent = time.perf_counter() - t0
    left_over = [requests[a] for a in servable if a not in chosen_slots]
    if dives and left_over and country_share_cap is None:
        residual = [
            replace(s, free_units=int(free[si])) for si, s in enumerate(slots) if free[si] >= 1
        ]
        extra = solve_round(
            left_over,
            residual,
            exempt_forms=exempt_forms,
            top_k=top_k,
            time_limit_s=max(time_limit_s - spent, 0.0),
            dives=dives - 1,
            exchanges=False,  # once, over the whole round, below
            exact_mip_max_variables=0,
        )
        index = {r.application_id: a for a, r in enumerate(requests)}
        slot_of = {s.key: i for i, s in enumerate(slots)}
        for app_id, choices in extra.served.items():
            chosen_slots[index[app_id]] = [
                (c.need_index, slot_of[c.candidate.key], c.units) for c in choices
            ]
        status = "LP rounding + residual dive"
    if exchanges and country_share_cap is None:
        capacity = {si: float(s.free_units) for si, s in enumerate(slots)}
        for taken in chosen_slots.values():
            for _, si, units in taken:
                capacity[si] -= units
        chosen_slots = exchange(
            {a: requests[a].weight for a in servable},
            {a: len(requests[a].needs) for a in servable},
            {key: [(si, units) for _, si, units in opts] for key, opts in ranked.items()},
            capacity,
            chosen_slots,
        )
        status += " + exchanges"
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
            for j, (a, k, si, units) in enumerate(x_vars):
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
        status += f"; the bound is over the {top_k} slots kept a need"
    return RoundResult(served, objective, lp_bound, gap, status, seconds, n, row, complete)
