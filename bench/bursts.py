"""Bursts of a benchmark side: CPU per item and latency percentiles, pooled over bursts."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def per_item_ms(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    spent = {name: (after[name] - before[name]) * 1000 / n for name in before}
    return {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}


@dataclasses.dataclass
class Burst:
    took: list[float]  # seconds, one per item
    before: dict[str, float]  # CPU seconds by process
    after: dict[str, float]

    def cpu_ms(self) -> dict[str, float]:
        """CPU-ms per item in this burst: in all, then by process."""
        spent = per_item_ms(self.before, self.after, len(self.took))
        return {"all": round(sum(spent.values()), 2), **spent}


def pooled_cpu_ms(bursts: list[Burst]) -> dict[str, float]:
    """CPU-ms per item by process over all bursts (the time between them not counted)."""
    spent = {name: sum(b.after[name] - b.before[name] for b in bursts) for name in bursts[0].before}
    n = sum(len(b.took) for b in bursts)
    return per_item_ms(dict.fromkeys(spent, 0.0), spent, n)


def pooled_latency(bursts: list[Burst]) -> dict[str, Any]:
    took = [t for b in bursts for t in b.took]
    return {
        "burst_p50_s": statistics.median(took),
        "burst_p95_s": pct(took, 0.95),
        "burst_p95_s_by_burst": [round(pct(b.took, 0.95), 3) for b in bursts],
    }


def side_report(alone: list[float], bursts: list[Burst], item: str) -> dict[str, Any]:
    """One side of a comparison: its unloaded median, its burst percentiles and its CPU per
    `item` (pooled, by process, by burst)."""
    cpu = pooled_cpu_ms(bursts)
    return {
        "unloaded_p50_s": statistics.median(alone),
        **pooled_latency(bursts),
        f"cpu_ms_per_{item}": round(sum(cpu.values()), 2),
        f"cpu_ms_per_{item}_by_process": cpu,
        f"cpu_ms_per_{item}_by_burst": [b.cpu_ms() for b in bursts],
    }
