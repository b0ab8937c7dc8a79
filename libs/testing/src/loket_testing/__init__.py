"""Loket for integration test suites (the README's section for integrators): the pytest
plugin's `loket_platform` fixture, the helpers below, and an OTLP receiver (`otlp`)."""

from loket_testing.platform import LoketPlatform, wait_for_catalogue, wait_for_stage

__all__ = ["LoketPlatform", "wait_for_catalogue", "wait_for_stage"]
