"""A facility's SDK: publish its profile, slots, withdrawals, terms and deliveries from a YAML or
CSV file, over HTTP (the gateway, as the facility's OAuth client) or Kafka (signed CloudEvents,
as its SASL principal).

The per-facility `sequence` is kept on disk (LOKET_HOME/facilities/<id>.json) with a digest of
each thing published, so running the same file again publishes nothing, and a changed slot is
published once more with the next sequence. Every event is validated against the contract's
models before anything leaves (`--dry-run` stops there).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from loket_contracts.capacity import (
    Delivery,
    FacilityProfile,
    FacilityTerms,
    SlotPublished,
    SlotWithdrawn,
)
from pydantic import BaseModel

from loket_client.login import home

# What a file may hold, the model it must satisfy, and how the gateway takes it.
KINDS: dict[str, type[BaseModel]] = {
    "profile": FacilityProfile,
    "terms": FacilityTerms,
    "slots": SlotPublished,
    "withdrawals": SlotWithdrawn,
    "deliveries": Delivery,
}


@dataclass(frozen=True)
class Item:
    kind: str
    fields: dict[str, Any]

    @property
    def key(self) -> str:
        """What it is about: the same key published again replaces the earlier one."""
        f = self.fields
        return {
            "profile": "profile",
            "terms": "terms",
            "slots": f"slot:{f.get('slot_id')}",
            "withdrawals": f"withdrawal:{f.get('slot_id')}",
            "deliveries": f"delivery:{f.get('application_id')}:{f.get('slot_id')}:"
            f"{f.get('delivered_at')}",
        }[self.kind]

    @property
    def digest(self) -> str:
        return hashlib.sha256(
            json.dumps(self.fields, sort_keys=True, default=str).encode()
        ).hexdigest()

    def http_route(self, facility_id: str) -> tuple[str, str]:
        base = f"/v1/facilities/{facility_id}"
        return {
            "profile": ("PUT", f"{base}/profile"),
            "terms": ("PUT", f"{base}/terms"),
            "slots": ("POST", f"{base}/slots"),
            "withdrawals": ("POST", f"{base}/slots/{self.fields.get('slot_id')}/withdrawal"),
            "deliveries": ("POST", f"{base}/deliveries"),
        }[self.kind]


def read(path: Path, facility_id: str | None = None) -> tuple[str, list[Item]]:
    """A YAML file (`facility_id`, `profile`, `terms`, `slots`, `withdrawals`, `deliveries`) or
    a CSV of slots (or of deliveries, when it has an `application_id` column)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            rows = [dict(r) for r in csv.DictReader(f)]
        kind = "deliveries" if rows and "application_id" in rows[0] else "slots"
        doc: dict[str, Any] = {kind: rows}
    else:
        doc = yaml.safe_load(path.read_text()) or {}
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected a mapping of facility_id, profile, slots, …")
    found = facility_id or doc.get("facility_id")
    if not found:
        raise ValueError("which facility? give facility_id in the file or --facility")
    unknown = set(doc) - {"facility_id", *KINDS}
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
    items = []
    for kind in KINDS:  # profile first: the market knows a facility before its slots
        section = doc.get(kind)
        for fields in [section] if isinstance(section, dict) else section or []:
            items.append(Item(kind, {k: v for k, v in fields.items() if v not in ("", None)}))
    return str(found), items


@dataclass
class Ledger:
    """What this facility published, kept on disk."""

    facility_id: str
    sequence: int = 0
    published: dict[str, str] = field(default_factory=dict)  # key → digest

    @staticmethod
    def path(facility_id: str) -> Path:
        return home() / "facilities" / f"{facility_id}.json"

    @classmethod
    def load(cls, facility_id: str) -> Ledger:
        path = cls.path(facility_id)
        if not path.exists():
            return cls(facility_id)
        kept = json.loads(path.read_text())
        return cls(facility_id, int(kept["sequence"]), dict(kept["published"]))

    def save(self) -> None:
        path = self.path(self.facility_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"sequence": self.sequence, "published": self.published}))
        tmp.replace(path)  # a crash leaves the old ledger or the new one, never half


@dataclass(frozen=True)
class Planned:
    item: Item
    body: BaseModel  # validated, with its sequence


def plan(facility_id: str, items: Iterable[Item], ledger: Ledger) -> list[Planned]:
    """What is new or changed since the ledger, validated, with sequences after the last one.
    Raises pydantic's ValidationError (with the item's place) on the first invalid item."""
    out, sequence = [], ledger.sequence
    for item in items:
        if ledger.published.get(item.key) == item.digest:
            continue
        sequence += 1
        body = KINDS[item.kind].model_validate(
            {**item.fields, "facility_id": facility_id, "sequence": sequence}
        )
        out.append(Planned(item, body))
    return out


def publish(
    facility_id: str,
    planned: list[Planned],
    ledger: Ledger,
    send: Callable[[Planned], None],
) -> int:
    """Send each planned event in order, recording it once sent: a run that fails half way
    leaves a ledger from which the next run goes on."""
    for p in planned:
        send(p)
        ledger.sequence = int(p.body.sequence)  # type: ignore[attr-defined]
        ledger.published[p.item.key] = p.item.digest
        ledger.save()
    return len(planned)
