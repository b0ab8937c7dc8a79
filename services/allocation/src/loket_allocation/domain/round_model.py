"""A batch round as a HiGHS model (batch.py solves it):
  maximise   Σ_a w_a · y_a
  subject to Σ_s x[a,n,s] = y_a                    every need n of a is served iff a is
             Σ_(a,n) units_n · x[a,n,s] ≤ free_s   per slot
             Σ units · x at facility f for applicants of country c ≤ share · capacity_f
                                                   (optional fairness cap)
             x, y ∈ {0, 1}
with one x for each (need, slot) pair given (candidates.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from loket_allocation.domain.candidates import Pairs, Requesting, fitting_pairs
from loket_allocation.domain.model import Candidate


class Weighted(Requesting, Protocol):
    @property
    def weight(self) -> float: ...


@dataclass
class RoundModel:
    servable: list[int]  # requests every need of which has a pair
    x_vars: list[tuple[int, int, int, int]]  # (request, need, slot, units), after the y's
    cost: np.ndarray
    constraints: LinearConstraint
    fair_rows: dict[tuple[str, str], int]  # (facility, country) → its fairness row
    capacity_at: dict[str, int] = field(default_factory=dict)  # facility → free units

    @property
    def y_col(self) -> dict[int, int]:
        return {a: i for i, a in enumerate(self.servable)}

    @property
    def variables(self) -> int:
        return len(self.cost)

    @property
    def rows(self) -> int:
        return int(self.constraints.A.shape[0])

    def bounds(self) -> Bounds:
        return Bounds(np.zeros(self.variables), np.ones(self.variables))


def build(
    requests: Sequence[Weighted],
    slots: Sequence[Candidate],
    pairs: Pairs,
    country_share_cap: float | None,
) -> RoundModel:
    covered: dict[int, set[int]] = defaultdict(set)
    for a, k in zip(pairs.request.tolist(), pairs.need.tolist(), strict=True):
        covered[a].add(k)
    servable = [a for a, req in enumerate(requests) if len(covered[a]) == len(req.needs)]
    is_servable = np.zeros(len(requests), dtype=bool)
    is_servable[servable] = True
    pairs = pairs.where(is_servable[pairs.request])
    x_vars = list(
        zip(
            pairs.request.tolist(),
            pairs.need.tolist(),
            pairs.slot.tolist(),
            pairs.units.tolist(),
            strict=True,
        )
    )
    y_col = {a: i for i, a in enumerate(servable)}
    n_y = len(servable)

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lb: list[float] = []
    ub: list[float] = []
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
    n = n_y + len(x_vars)
    matrix = coo_matrix((vals, (rows, cols)), shape=(row, n)).tocsr()
    cost = np.zeros(n)
    cost[:n_y] = [-requests[a].weight for a in servable]
    return RoundModel(
        servable,
        x_vars,
        cost,
        LinearConstraint(matrix, np.array(lb), np.array(ub)),
        fair_rows,
        dict(capacity_at),
    )


def full_lp_bound(
    requests: Sequence[Weighted],
    slots: Sequence[Candidate],
    *,
    exempt_forms: frozenset[str] = frozenset(),
    country_share_cap: float | None = None,
) -> float:
    """The LP relaxation of the whole round, every pair that fits in it: the bound a round's
    result is judged against. A round itself keeps `top_k` pairs a need, so its own LP bounds
    only the model it solved. About a minute at 10,000 applications: for benchmarks."""
    model = build(requests, slots, fitting_pairs(requests, slots, exempt_forms), country_share_cap)
    if not model.servable:
        return 0.0
    relaxed = milp(
        model.cost,
        constraints=model.constraints,
        bounds=model.bounds(),
        integrality=np.zeros(model.variables),
    )
    if relaxed.fun is None:
        raise RuntimeError(f"the round's LP relaxation failed: {relaxed.message}")
    return -float(relaxed.fun)
