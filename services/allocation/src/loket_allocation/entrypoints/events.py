"""Where the allocation service's events and replies go."""

from __future__ import annotations

from loket_contracts import topics
from loket_messaging import Emitter

SOURCE = "loket/allocation"
emit = Emitter(topics.ALLOCATION_EVENTS, SOURCE)
reply = Emitter(topics.ALLOCATION_REPLIES, SOURCE)
