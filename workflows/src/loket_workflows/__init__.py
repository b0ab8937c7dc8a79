"""Temporal workflows that orchestrate each voucher application, plus the Kafka→signal bridge."""
