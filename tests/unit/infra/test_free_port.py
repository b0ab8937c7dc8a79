"""Ports for the servers a test or the embedded stack starts: free, below the ephemeral range,
and never handed out twice, a server's neighbouring ports included."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest
from loket_infra import processes
from loket_infra.processes import free_port

SYSTEM_RANDOM = random.SystemRandom


class Picks:
    """Draws these ports first, then random ones."""

    def __init__(self, first: list[int]) -> None:
        self.first: Iterator[int] = iter(first)
        self.rest = SYSTEM_RANDOM()

    def randrange(self, start: int, stop: int) -> int:
        return next(self.first, None) or self.rest.randrange(start, stop)


def test_a_span_is_free_and_none_of_it_is_handed_out_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = free_port(span=7)  # Temporal: its services at + 1, 2 and 6
    block = range(base, base + 7)
    assert 20000 <= base and block[-1] < 32000
    for port in block:  # all free: a server can bind each
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))
    monkeypatch.setattr(processes.random, "SystemRandom", lambda: Picks([base + 1, base + 6]))
    assert free_port() not in block  # the neighbours drawn first are skipped
    monkeypatch.setattr(processes.random, "SystemRandom", lambda: Picks([base - 3]))
    assert free_port(span=7) not in range(base - 6, base + 7)  # a span may not overlap one


def test_a_port_is_never_handed_out_twice() -> None:
    assert len({free_port() for _ in range(500)}) == 500
