"""Loket's shared message contracts: topic names, the CloudEvents envelope, message bodies.

This package is the only code that services share about each other. It holds data shapes,
never behaviour that reaches into a service.
"""
