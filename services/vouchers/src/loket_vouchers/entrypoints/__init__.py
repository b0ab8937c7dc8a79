"""Kafka entrypoints of the vouchers service."""

SOURCE = "loket/vouchers"  # the CloudEvents source of everything this service emits
