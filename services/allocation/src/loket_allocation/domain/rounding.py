"""A round with a country share cap, turned whole from its LP solution: applications the
relaxation serves (most) first, each need on the kept slot the relaxation uses most that still
has room within its facility's cap for the applicant's country; then everyone else, heaviest
first. (Without a cap, packing.settle does better: it uses every slot that fits.)"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from loket_allocation.domain.model import Candidate
from loket_allocation.domain.packing import Taken
from loket_allocation.domain.round_model import RoundModel, Weighted


def round_within_caps(
    requests: Sequence[Weighted],
    slots: Sequence[Candidate],
    model: RoundModel,
    x: np.ndarray,
    country_share_cap: float,
) -> dict[int, Taken]:
    n_y, y_col = len(model.servable), model.y_col
    free = {si: float(s.free_units) for si, s in enumerate(slots)}
    fair_left = {key: country_share_cap * model.capacity_at[key[0]] for key in model.fair_rows}
    ranked: dict[tuple[int, int], list[tuple[float, int, int]]] = defaultdict(list)
    for j, (a, k, si, units) in enumerate(model.x_vars):
        ranked[(a, k)].append((-x[n_y + j], si, units))
    for opts in ranked.values():
        opts.sort()
    order = sorted(model.servable, key=lambda a: (-round(x[y_col[a]], 6), -requests[a].weight))
    chosen: dict[int, Taken] = {}
    for a in order:
        taken: Taken = []
        use: dict[int, float] = defaultdict(float)
        fair_use: dict[tuple[str, str], float] = defaultdict(float)
        for k in range(len(requests[a].needs)):
            for _, si, units in ranked[(a, k)]:
                key = (slots[si].facility_id, requests[a].workplace_country)
                if free[si] - use[si] < units or fair_left[key] - fair_use[key] < units:
                    continue
                use[si] += units
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
            chosen[a] = taken
    return chosen
