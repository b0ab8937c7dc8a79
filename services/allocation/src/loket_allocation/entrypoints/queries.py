"""The read side: catalogue and utilisation, answered on the replies topic."""

from __future__ import annotations

from collections.abc import Sequence

from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent
from loket_messaging import Outgoing
from sqlmodel import Session

from loket_allocation.adapters.catalogue import catalogue, utilisation
from loket_allocation.entrypoints.events import reply


class Queries:
    def on_catalogue_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.CatalogueQuery)
        slots, truncated = catalogue(session, q)
        body = m.CatalogueReply(
            slots=slots, truncated=truncated, next_offset=q.offset + q.limit if truncated else None
        )
        return [reply(m.CATALOGUE_REPLY, body, event.id)]

    def on_utilisation_query(self, session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        q = event.decode(m.UtilisationQuery)
        body = utilisation(session, q.offset, q.limit)
        return [reply(m.UTILISATION_REPLY, body, event.id)]
