"""Questions the gateway asks the services over Kafka (request/reply) for its readers."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal, TypeVar

from fastapi.responses import PlainTextResponse
from loket_contracts import messages as m
from loket_contracts.topics import VOUCHERS_QUERIES
from pydantic import BaseModel

from loket_gateway.problems import Problem
from loket_gateway.requests import NoAnswer
from loket_gateway.state import State

ReplyT = TypeVar("ReplyT", bound=BaseModel)


async def ask(
    state: State,
    type_: str,
    body: BaseModel,
    reply_type: str,
    model: type[ReplyT],
    topic: str = VOUCHERS_QUERIES,
) -> ReplyT:
    assert state.requests is not None
    try:
        return await state.requests.ask(topic, type_, body, reply_type, model)
    except NoAnswer as exc:
        service = topic.split(".")[1]
        raise Problem(
            504, "no-answer", f"The {service} service did not answer in time", str(exc)
        ) from exc


async def register(
    state: State,
    register_id: Literal["gber_transparency", "de_minimis", "aid"],
    format: Literal["json", "csv"],
    offset: int,
    limit: int,
) -> Any:
    """A register a page at a time, as JSON or CSV."""
    reply = await ask(
        state,
        m.REGISTER_QUERY,
        m.RegisterQuery(register_id=register_id, offset=offset, limit=limit),
        m.REGISTER_REPLY,
        m.RegisterReply,
    )
    if format == "json":
        return reply
    out = io.StringIO()
    writer = csv.writer(out)
    columns = list(m.RegisterRow.model_fields)
    writer.writerow(columns)
    for row in reply.rows:
        writer.writerow([getattr(row, c) for c in columns])
    return PlainTextResponse(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{register_id}.csv"'},
    )
