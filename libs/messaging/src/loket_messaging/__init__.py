"""The messaging foundation every Loket service uses the same way.

CloudEvents over Kafka; an inbox so a redelivered event changes nothing; a transactional outbox
for events born from a database change; a dead-letter topic for what cannot be processed;
offsets committed only after the work is durable.
"""

from loket_messaging.outbox import Emitter, Outgoing
from loket_messaging.runtime import Handler, ServiceRuntime
from loket_messaging.settings import Settings

__all__ = ["Emitter", "Handler", "Outgoing", "ServiceRuntime", "Settings"]
