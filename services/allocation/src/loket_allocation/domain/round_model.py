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
from dataclasses import dataclass
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
    servable: list[int]  # requests every need of which has a pair; y columns in this order
    pairs: Pairs  # the x columns, after the y's: the kept pairs of servable requests
    cost: np.ndarray
    constraints: LinearConstraint

    @property
    def x_vars(self) -> list[tuple[int, int, int, int]]:  # (request, need, slot, units)
        p = self.pairs
        columns = (p.request.tolist(), p.need.tolist(), p.slot.tolist(), p.units.tolist())
        return list(zip(*columns, strict=True))

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
    """The model in arrays: a round of 10,000 applications has 150,000 columns."""
    needs = np.array([len(r.needs) for r in requests], dtype=np.int64)
    first, _ = pairs.need_spans()
    covered = np.bincount(pairs.request[first], minlength=len(requests))  # needs with a pair
    is_servable = covered == needs
    servable = np.flatnonzero(is_servable)
    pairs = pairs.where(is_servable[pairs.request])
    n_y, n_x = len(servable), len(pairs)
    first_need_row = np.zeros(len(requests), dtype=np.int64)
    first_need_row[servable] = np.cumsum(needs[servable]) - needs[servable]
    need_rows = int(needs[servable].sum())
    x_cols = n_y + np.arange(n_x)

    # Σ_s x[a,n,s] − y_a = 0, one row per need of a servable request
    rows = [np.repeat(first_need_row[servable], needs[servable]) + _within(needs[servable])]
    cols = [np.repeat(np.arange(n_y), needs[servable])]
    vals = [np.full(need_rows, -1.0)]
    rows.append(first_need_row[pairs.request] + pairs.need)
    cols.append(x_cols)
    vals.append(np.ones(n_x))
    lb, ub = [np.zeros(need_rows)], [np.zeros(need_rows)]
    # Σ units · x ≤ free, one row per slot some pair uses
    used, slot_row = np.unique(pairs.slot, return_inverse=True)
    rows.append(need_rows + slot_row)
    cols.append(x_cols)
    vals.append(pairs.units.astype(float))
    lb.append(np.full(len(used), -np.inf))
    ub.append(np.array([float(slots[si].free_units) for si in used.tolist()]))
    row = need_rows + len(used)

    if country_share_cap is not None:  # Σ units · x at facility f for country c ≤ share · f's
        capacity_at: dict[str, int] = defaultdict(int)
        for s in slots:
            capacity_at[s.facility_id] += s.free_units
        fair_rows: dict[tuple[str, str], int] = {}
        keyed = [
            (slots[si].facility_id, requests[a].workplace_country)
            for a, si in zip(pairs.request.tolist(), pairs.slot.tolist(), strict=True)
        ]
        for key in keyed:
            fair_rows.setdefault(key, row + len(fair_rows))
        rows.append(np.array([fair_rows[key] for key in keyed], dtype=np.int64))
        cols.append(x_cols)
        vals.append(pairs.units.astype(float))
        lb.append(np.full(len(fair_rows), -np.inf))
        ub.append(np.array([country_share_cap * capacity_at[f] for f, _ in fair_rows]))
        row += len(fair_rows)

    matrix = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(row, n_y + n_x),
    ).tocsr()
    cost = np.zeros(n_y + n_x)
    cost[:n_y] = [-requests[a].weight for a in servable.tolist()]
    return RoundModel(
        servable.tolist(),
        pairs,
        cost,
        LinearConstraint(matrix, np.concatenate(lb), np.concatenate(ub)),
    )


def _within(counts: np.ndarray) -> np.ndarray:
    """0, 1, …, c−1 for each count c, concatenated."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def full_lp_bound(
    requests: Sequence[Weighted],
    slots: Sequence[Candidate],
    *,
    exempt_forms: frozenset[str] = frozenset(),
    country_share_cap: float | None = None,
) -> float:
    """The LP relaxation of the whole round, every pair that fits in it: the bound a round's
    result is judged against. A round itself keeps a few pairs a need, so its own LP bounds
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
