"""Runs Loket: the embedded stack (no Docker), the demo scenario, one service at a time."""
