"""Batch rounds (call cut-off): serve as many priority-weighted applications as capacity allows.

An integer programme solved by HiGHS (through scipy.optimize.milp):
  maximise   Σ_a w_a · y_a
  subject to Σ_s x[a,n,s] = y_a                    every need n of a is served iff a is
             Σ_(a,n) units_n · x[a,n,s] ≤ free_s   per slot
             Σ units · x at facility f for applicants of country c ≤ share · capacity_f
                                                   (optional fairness cap)
             x, y ∈ {0, 1}
Only slots that fit a need (service type, access mode, window, transnational rule, enough free
units) become variables; each need keeps its `top_k` best-ranked slots, which bounds the model.
The LP relaxation of the same model gives the bound the result is measured against. Large
rounds are solved by rounding the LP solution (HiGHS's MIP does not reach a good incumbent in
seconds at 10,000 applications), one residual dive over what is left, and one exchange pass
(exchange.py); small ones exactly by the MIP.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import islice

import numpy as np
from loket_contracts.messages import Need
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from loket_allocation.domain.exchange import exchange
from loket_allocation.domain.model import Candidate, Choice, fits


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


def solve_round(
    requests: list[BatchRequest],
    slots: list[Candidate],
    *,
    exempt_forms: frozenset[str] = frozenset(),
    country_share_cap: float | None = None,
    top_k: int = 12,
    time_limit_s: float = 5.0,
    mip_gap: float = 0.005,
    exact_mip_max_variables: int = 20_000,
    dives: int = 1,
    exchanges: bool = True,
) -> RoundResult:
    t0 = time.perf_counter()
    by_type: dict[str, list[Candidate]] = defaultdict(list)
    for s in slots:
        by_type[s.service_type].append(s)
    for of_type in by_type.values():  # by start (stable: ties keep the slots' order)
        of_type.sort(key=lambda s: (s.start, s.market_price_eur))
    starts = {t: [s.start for s in of_type] for t, of_type in by_type.items()}
    slot_index = {s.key: i for i, s in enumerate(slots)}

    # variables: y_a for every servable application, then x[a,n,s]
    x_vars: list[tuple[int, int, int, int]] = []  # (app, need, slot, units)
    servable: list[int] = []
    for a, req in enumerate(requests):
        per_need = []
        for need in req.needs:
            # Only slots starting inside the need's window can fit it: found by bisection.
            of_type, at = by_type.get(need.service_type, []), starts.get(need.service_type, [])
            window = of_type[
                bisect_left(at, need.earliest_start) : bisect_right(at, need.latest_end)
            ]
            # The first top_k that fit, in the window's order (no need to test the rest).
            fitting = (s for s in window if fits(need, s, req.workplace_country, exempt_forms))
            per_need.append(list(islice(fitting, top_k)))
        if all(per_need):
            servable.append(a)
            for n, options in enumerate(per_need):
                x_vars.extend((a, n, slot_index[s.key], req.needs[n].units) for s in options)
    y_col = {a: i for i, a in enumerate(servable)}
    n_y, n_x = len(servable), len(x_vars)
    n = n_y + n_x
    if n_y == 0:
        return RoundResult({}, 0.0, 0.0, 0.0, "nothing servable", time.perf_counter() - t0, 0, 0)

    rows, cols, vals, lb, ub = [], [], [], [], []
    row = 0
    need_rows: dict[tuple[int, int], int] = {}
    for a in servable:  # Σ_s x[a,n,s] − y_a = 0
        for k in range(len(requests[a].needs)):
            need_rows[(a, k)] = row
            rows.append(row)
            cols.append(y_col[a])
            vals.append(-1.0)
            lb.append(0.0)
            ub.append(0.0)
            row += 1
    slot_rows: dict[int, int] = {}
    fair_rows: dict[tuple[str, str], int] = {}
    capacity_at: dict[str, int] = defaultdict(int)
    for s in slots:
        capacity_at[s.facility_id] += s.free_units
    for j, (a, k, si, units) in enumerate(x_vars):
        col = n_y + j
        rows.append(need_rows[(a, k)])
        cols.append(col)
        vals.append(1.0)
        if si not in slot_rows:
            slot_rows[si] = row
            lb.append(-np.inf)
            ub.append(float(slots[si].free_units))
            row += 1
        rows.append(slot_rows[si])
        cols.append(col)
        vals.append(float(units))
        if country_share_cap is not None:
            key = (slots[si].facility_id, requests[a].workplace_country)
            if key not in fair_rows:
                fair_rows[key] = row
                lb.append(-np.inf)
                ub.append(country_share_cap * capacity_at[slots[si].facility_id])
                row += 1
            rows.append(fair_rows[key])
            cols.append(col)
            vals.append(float(units))
    matrix = coo_matrix((vals, (rows, cols)), shape=(row, n)).tocsr()
    constraints = LinearConstraint(matrix, np.array(lb), np.array(ub))
    cost = np.zeros(n)
    cost[:n_y] = [-requests[a].weight for a in servable]
    bounds = Bounds(np.zeros(n), np.ones(n))

    relaxed = milp(cost, constraints=constraints, bounds=bounds, integrality=np.zeros(n))
    if relaxed.x is None:
        return RoundResult(
            {}, 0.0, float("nan"), 1.0, relaxed.message, time.perf_counter() - t0, n, row
        )
    lp_bound = -float(relaxed.fun)

    # LP rounding: applications the relaxation serves (most) first, each need on the slot the
    # relaxation uses most; then everyone else greedily, heaviest first.
    free = {si: float(slots[si].free_units) for si in slot_rows}
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
    # Dives: the unserved applications again, against the capacity left. A fixed number of
    # them, whatever the clock says: the round's quality must not depend on the machine's luck.
    spent = time.perf_counter() - t0
    left_over = [requests[a] for a in servable if a not in chosen_slots]
    if dives and left_over and country_share_cap is None:
        residual = [
            replace(slots[si], free_units=int(free[si])) for si in slot_rows if free[si] >= 1
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
        capacity = {si: float(slots[si].free_units) for si in slot_rows}
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
    return RoundResult(served, objective, lp_bound, gap, status, seconds, n, row)
