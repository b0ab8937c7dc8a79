"""One exchange pass over a rounded batch round: give up one served application when the
capacity it frees serves others worth more (two weight-1 applications for one, a weight-3 one
for a weight-1 one). Deterministic and bounded (each served application is tried once), so the
round's quality does not depend on the clock."""

from __future__ import annotations

from collections import defaultdict

Taken = list[tuple[int, int, int]]  # (need index, slot index, units)


def exchange(
    weights: dict[int, float],
    needs: dict[int, int],
    options: dict[tuple[int, int], list[tuple[int, int]]],  # (app, need) → [(slot, units)]
    free: dict[int, float],
    chosen: dict[int, Taken],
) -> dict[int, Taken]:
    chosen = dict(chosen)
    free = dict(free)
    unserved = {a for a in weights if a not in chosen}
    by_slot: dict[int, set[int]] = defaultdict(set)
    for (a, _), opts in options.items():
        for si, _units in opts:
            by_slot[si].add(a)

    def fit(a: int) -> Taken | None:
        use: dict[int, float] = defaultdict(float)
        taken: Taken = []
        for k in range(needs[a]):
            for si, units in options[(a, k)]:
                if free[si] - use[si] >= units:
                    use[si] += units
                    taken.append((k, si, units))
                    break
            else:
                return None
        return taken

    def put(taken: Taken, sign: float) -> None:
        for _, si, units in taken:
            free[si] -= sign * units

    for b in sorted(unserved, key=lambda b: (-weights[b], b)):  # what fits as it is
        taken = fit(b)
        if taken is not None:
            put(taken, 1)
            chosen[b] = taken
    unserved -= set(chosen)
    for a in sorted(chosen, key=lambda a: (weights[a], a)):
        mine = chosen[a]
        put(mine, -1)  # a's units back on the market, tentatively
        nearby = {b for _, si, _ in mine for b in by_slot[si] if b in unserved}
        added: dict[int, Taken] = {}
        for b in sorted(nearby, key=lambda b: (-weights[b], b)):
            taken = fit(b)
            if taken is not None:
                put(taken, 1)
                added[b] = taken
        if sum(weights[b] for b in added) > weights[a]:
            del chosen[a]
            unserved.add(a)
            for b, taken in added.items():
                chosen[b] = taken
                unserved.discard(b)
        else:
            for taken in added.values():
                put(taken, -1)
            put(mine, 1)
    return chosen
