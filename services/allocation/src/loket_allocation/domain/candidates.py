"""Which slots each need of a batch round may use: every (need, slot) pair that `fits`, found
for the whole round at once with numpy (a round of 10,000 applications has about 1.4 million
such pairs; testing them one by one in Python took longer than the LP).

A round's model keeps `per_need` of each need's pairs, spread evenly over its window, each need
from an offset of its own. Taking the first ones in the window instead crowded every need onto
the window's earliest slots, and one common start crowded needs with like windows onto the same
slots: the model's LP was 11 % and then 1.9 % under the whole round's; with the offsets it is
0.55 % under it at 8 slots a need (bench/allocation.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from loket_contracts.messages import Need

from loket_allocation.domain.model import Candidate

GOLDEN = (5**0.5 - 1) / 2


class Requesting(Protocol):
    @property
    def workplace_country(self) -> str: ...

    @property
    def needs(self) -> list[Need]: ...


@dataclass(frozen=True)
class Pairs:
    """Every fitting (need, slot) pair, grouped by need in the round's order (request, then
    need), each need's slots in window order: by start, then market price, then input order."""

    request: np.ndarray  # per pair: the request's index
    need: np.ndarray  # per pair: the need's index within its request
    slot: np.ndarray  # per pair: the slot's index in the round's slot list
    units: np.ndarray  # per pair: the units the need asks for

    def __len__(self) -> int:
        return len(self.slot)

    def need_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each need's pairs start and end (the pairs are grouped by need)."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        key = self.request.astype(np.int64) * 1024 + self.need  # a request has < 1024 needs
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        return first, np.r_[first[1:], len(key)]

    def kept(self, spread: int, least_asked: int, free: np.ndarray) -> Pairs:
        """A round's model: of each need's pairs, `spread` evenly spaced over its window, and
        the `least_asked` others whose slots the round asks least of (units wanted by every
        pair at the slot per unit it has free, `free` per slot). The whole round's LP serves
        its last applications through such quiet slots; a spread alone keeps few of them."""
        keep = self._spread(spread)
        if len(self) == 0 or least_asked <= 0:
            return self.where(keep)
        wanted = np.bincount(self.slot, weights=self.units, minlength=len(free))
        asked = (wanted / np.maximum(free, 1))[self.slot]
        first, ends = self.need_spans()
        size = ends - first
        for _ in range(least_asked):  # each time, each need's least asked slot not yet kept
            value = np.where(keep, np.inf, asked)
            least = np.repeat(np.minimum.reduceat(value, first), size)
            at = np.flatnonzero((value == least) & ~keep)
            if len(at) == 0:
                break
            group = np.searchsorted(first, at, "right")
            keep[at[np.r_[True, group[1:] != group[:-1]]]] = True  # the first in window order
        return self.where(keep)

    def _spread(self, per_need: int) -> np.ndarray:
        """At most `per_need` pairs of each need, evenly spaced over its window (a mask)."""
        keep = np.zeros(len(self), dtype=bool)
        if len(self) == 0:
            return keep
        first, ends = self.need_spans()
        size = ends - first
        small = size <= per_need
        keep[np.repeat(small, size)] = True
        big_first, big_size = first[~small], size[~small]
        # Each need's picks start at its own offset into the first step (golden-ratio steps,
        # a low-discrepancy sequence): needs with like windows then keep different slots
        # instead of all crowding onto the same ones.
        offset = (np.flatnonzero(~small) * GOLDEN) % 1.0
        at = (np.arange(per_need)[None, :] + offset[:, None]) * big_size[:, None] / per_need
        picks = big_first[:, None] + at.astype(np.int64)
        keep[picks.ravel()] = True
        return keep

    def where(self, mask: np.ndarray) -> Pairs:
        return Pairs(self.request[mask], self.need[mask], self.slot[mask], self.units[mask])


def fitting_pairs(
    requests: Sequence[Requesting], slots: Sequence[Candidate], exempt_forms: frozenset[str]
) -> Pairs:
    """The pairs for which model.fits holds, without calling it 1.4 million times."""
    types = {t: i for i, t in enumerate(sorted({s.service_type for s in slots}))}
    countries = {c: i for i, c in enumerate(sorted({s.country for s in slots}))}
    modes = {m: 1 << i for i, m in enumerate(sorted({m for s in slots for m in s.access_modes}))}
    s_type = np.array([types[s.service_type] for s in slots], dtype=np.int64)
    s_start = np.array([s.start.timestamp() for s in slots])
    s_end = np.array([s.end.timestamp() for s in slots])
    s_free = np.array([s.free_units for s in slots], dtype=np.int64)
    s_country = np.array([countries[s.country] for s in slots], dtype=np.int64)
    s_exempt = np.array([s.legal_form in exempt_forms for s in slots], dtype=bool)
    s_modes = np.array([sum(modes[m] for m in set(s.access_modes)) for s in slots], np.int64)
    price = np.array([float(s.market_price_eur) for s in slots])
    # Window order: by type, then start, then price; ties keep the slots' order.
    order = np.lexsort((np.arange(len(slots)), price, s_start, s_type))

    flat = [(r, k, n) for r, req in enumerate(requests) for k, n in enumerate(req.needs)]
    n_req = np.array([r for r, _, _ in flat], dtype=np.int64)
    n_idx = np.array([k for _, k, _ in flat], dtype=np.int64)
    n_type = np.array([types.get(n.service_type, -1) for _, _, n in flat], dtype=np.int64)
    n_from = np.array([n.earliest_start.timestamp() for _, _, n in flat])
    n_to = np.array([n.latest_end.timestamp() for _, _, n in flat])
    n_units = np.array([n.units for _, _, n in flat], dtype=np.int64)
    n_mode = np.array([modes.get(n.access_mode, 0) for _, _, n in flat], dtype=np.int64)
    home = np.array(
        [countries.get(requests[r].workplace_country, -1) for r, _, _ in flat], dtype=np.int64
    )

    # Only slots starting inside a need's window can fit it: a range of the ordered slots.
    lo = np.zeros(len(flat), dtype=np.int64)
    hi = np.zeros(len(flat), dtype=np.int64)
    ordered_type, ordered_start = s_type[order], s_start[order]
    for t in range(len(types)):
        of_type = np.flatnonzero(n_type == t)
        begin, end = np.searchsorted(ordered_type, [t, t + 1])
        at = ordered_start[begin:end]
        lo[of_type] = begin + np.searchsorted(at, n_from[of_type], "left")
        hi[of_type] = begin + np.searchsorted(at, n_to[of_type], "right")
    count = np.maximum(hi - lo, 0)
    p_need = np.repeat(np.arange(len(flat)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    p_slot = order[np.repeat(lo, count) + offset]

    fit = (
        (s_end[p_slot] <= n_to[p_need])
        & (s_free[p_slot] >= n_units[p_need])
        & ((s_modes[p_slot] & n_mode[p_need]) != 0)
        & ((s_country[p_slot] != home[p_need]) | s_exempt[p_slot])  # transnational
    )
    p_need, p_slot = p_need[fit], p_slot[fit]
    return Pairs(n_req[p_need], n_idx[p_need], p_slot, n_units[p_need])
