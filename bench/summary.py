"""`python -m bench.summary`: the Apache Kafka figures of the benchmarks' JSON results as plain
numbers in bench/results/summary.json (SPEC non-functional targets). A figure no benchmark has
measured yet is null and named under "not_measured"; nothing is filled in by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
KEYS = (
    "cpu_per_application_ratio",
    "burst_p95_ratio",
    "unloaded_p50_ratio",
    "hop_overhead_ratio",
    "idle_core_fraction",
    "batch_gap",
)


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _on_apache(result: dict[str, Any]) -> dict[str, Any]:
    runs = result.get("results", [])
    return next((r for r in runs if r.get("kafka", r.get("broker")) == "apache"), {})


def summary() -> dict[str, Any]:
    figures: dict[str, float | None] = dict.fromkeys(KEYS)
    per_app = _on_apache(_load("per_application"))
    for key in ("cpu_per_application_ratio", "burst_p95_ratio", "unloaded_p50_ratio"):
        figures[key] = per_app.get(key)
    figures["hop_overhead_ratio"] = _on_apache(_load("kafka_hop")).get("hop_overhead_ratio")
    figures["idle_core_fraction"] = _on_apache(_load("idle")).get("idle_core_fraction")
    figures["batch_gap"] = _load("allocation").get("batch", {}).get("gap")
    return {**figures, "not_measured": [k for k, v in figures.items() if v is None]}


def main() -> None:
    data = summary()
    (RESULTS / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
