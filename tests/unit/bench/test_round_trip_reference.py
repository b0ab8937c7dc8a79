"""The figures for the product owner's questions 2 and 4: Loket against references that
include raw Kafka round trips."""

from __future__ import annotations

import pytest

from bench.raw_kafka import with_round_trips


def test_the_references_add_a_round_trip_per_command() -> None:
    raw = {"cpu_ms_per_workflow": 30.0, "unloaded_p50_s": 0.036}
    ours = {"cpu_ms_per_application": 170.0, "unloaded_p50_s": 0.114}
    trip = {
        "cpu_ms_per_round_trip": 0.5,  # in a burst: batched
        "cpu_ms_per_round_trip_chained": 3.0,
        "unloaded_p50_s": 0.004,
    }
    found = with_round_trips(raw, ours, trip, commands=7.0, asked=4)
    assert found["cpu_per_application_ratio_round_trips_burst"] == pytest.approx(170 / 33.5, 1e-3)
    assert found["cpu_per_application_ratio_round_trips_chained"] == pytest.approx(170 / 51, 1e-3)
    assert found["unloaded_p50_ratio_round_trips"] == pytest.approx(0.114 / 0.052, 1e-3)
    assert found["commands_per_application"] == 7.0
    assert found["commands_before_terms"] == 4
