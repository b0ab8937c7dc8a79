"""Temporal workflows that orchestrate each voucher application, and the bridge that brings the
services' events to them."""
