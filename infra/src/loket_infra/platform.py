"""What a running Loket offers its clients, however it runs: the embedded stack, compose, or
loket_testing's containers. The demo scenario and the integrators' fixture need no more."""

from __future__ import annotations

from typing import Protocol

from loket_messaging.kafka import KafkaAccess

from loket_infra.identities import IdentityProvider


class Platform(Protocol):
    @property
    def gateway_url(self) -> str: ...
    @property
    def kafka_bootstrap(self) -> str: ...
    @property
    def temporal_address(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def identity(self) -> IdentityProvider: ...
    @property
    def kafka_admin(self) -> KafkaAccess:
        """The operator's access (super user): topics, lag, any record."""
        ...

    @property
    def facility_access(self) -> KafkaAccess:
        """What an external facility producer connects with."""
        ...

    def facility_key(self, facility_id: str) -> bytes:
        """The key that signs facility `facility_id`'s Kafka events."""
        ...
