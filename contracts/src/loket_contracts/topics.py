"""Kafka topic names. A `.v1` suffix is part of the contract: a breaking change gets a new topic."""

from typing import Final

FACILITY_CAPACITY: Final = "loket.facility.capacity.v1"  # public: external facility producers

ELIGIBILITY_COMMANDS: Final = "loket.eligibility.commands.v1"
ELIGIBILITY_EVENTS: Final = "loket.eligibility.events.v1"
ALLOCATION_COMMANDS: Final = "loket.allocation.commands.v1"
ALLOCATION_EVENTS: Final = "loket.allocation.events.v1"
ALLOCATION_QUERIES: Final = "loket.allocation.queries.v1"  # catalogue, utilisation
ALLOCATION_REPLIES: Final = "loket.allocation.replies.v1"
VOUCHERS_COMMANDS: Final = "loket.vouchers.commands.v1"
VOUCHERS_EVENTS: Final = "loket.vouchers.events.v1"
VOUCHERS_QUERIES: Final = "loket.vouchers.queries.v1"  # read-only requests from the gateway
VOUCHERS_REPLIES: Final = "loket.vouchers.replies.v1"  # their answers, by correlation id
CHARTER_COMMANDS: Final = "loket.charter.commands.v1"
CHARTER_EVENTS: Final = "loket.charter.events.v1"
CHARTER_QUERIES: Final = "loket.charter.queries.v1"  # agreement files, for the gateway
CHARTER_REPLIES: Final = "loket.charter.replies.v1"
NOTIFICATIONS: Final = "loket.notifications.v1"  # for people: applicants, managers, facilities
# Stage changes of every application, for read models (the gateway's listings).
APPLICATION_EVENTS: Final = "loket.applications.events.v1"
# Calls as the programme opens, amends and closes them (the gateway owns them): budgets for
# the vouchers service.
CALLS: Final = "loket.calls.v1"

SERVICE_EVENT_TOPICS: Final = (
    ELIGIBILITY_EVENTS,
    ALLOCATION_EVENTS,
    VOUCHERS_EVENTS,
    CHARTER_EVENTS,
)
COMMAND_TOPICS: Final = (
    ELIGIBILITY_COMMANDS,
    ALLOCATION_COMMANDS,
    VOUCHERS_COMMANDS,
    CHARTER_COMMANDS,
)
ALL_TOPICS: Final = (
    FACILITY_CAPACITY,
    *COMMAND_TOPICS,
    *SERVICE_EVENT_TOPICS,
    VOUCHERS_QUERIES,
    VOUCHERS_REPLIES,
    ALLOCATION_QUERIES,
    ALLOCATION_REPLIES,
    CHARTER_QUERIES,
    CHARTER_REPLIES,
    NOTIFICATIONS,
    APPLICATION_EVENTS,
    CALLS,
)


def dlq(topic: str) -> str:
    """Dead-letter topic: where records that cannot be processed go, with the reason."""
    return f"{topic}.dlq"


def all_topics_with_dlq() -> list[str]:
    return [t for topic in ALL_TOPICS for t in (topic, dlq(topic))]
