"""Loket for integration test suites (see the README's section for integrators)."""
