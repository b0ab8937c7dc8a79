"""The write rate per principal: a burst, then the refill rate; principals do not share."""

from __future__ import annotations

from loket_gateway.limits import WriteRate


def test_a_burst_then_the_refill_rate_per_principal() -> None:
    rate = WriteRate(per_minute=60, burst=3)
    assert [rate.take("ada", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rate.take("ada", now=0.0)
    assert 0.99 < wait <= 1.0  # one write a second
    assert rate.take("mina", now=0.0) == 0.0  # someone else is not slowed down
    assert rate.take("ada", now=1.0) == 0.0
    assert rate.take("ada", now=1.0) > 0
    assert [rate.take("ada", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]  # full again
