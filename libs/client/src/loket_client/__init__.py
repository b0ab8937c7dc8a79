"""A start-up's client of Loket: `LoketClient` (typed, on httpx) and the CLI's commands."""

from loket_client.client import LoketClient, ProblemError

__all__ = ["LoketClient", "ProblemError"]
