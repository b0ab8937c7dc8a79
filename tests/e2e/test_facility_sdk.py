"""The facility SDK through the CLI: a dry run sends nothing, a publication over HTTP reaches
the catalogue, the same file again sends nothing, a withdrawal over Kafka (signed, as the
facilities' principal) takes the slot off the market."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import yaml
from loket_contracts import keys

from .conftest import Loket
from .test_cli import cli


def facility_file(facility_id: str, service_type: str) -> dict[str, Any]:
    return {
        "facility_id": facility_id,
        "profile": {
            "name": "Elettra SYRMEP",
            "site": "Trieste",
            "country": "IT",
            "kind": "RI",
            "offerings": [
                {
                    "offering_id": "o1",
                    "service_type": service_type,
                    "unit": "shift",
                    "market_price_eur": 3300,
                    "access_modes": ["physical"],
                }
            ],
        },
        "slots": [
            {
                "slot_id": "s1",
                "offering_id": "o1",
                "start": "2027-05-03T08:00:00Z",
                "end": "2027-05-06T08:00:00Z",
                "capacity_units": 9,
            }
        ],
    }


async def catalogue(loket: Loket, service_type: str) -> list[dict[str, Any]]:
    resp = await loket.http.get("/v1/catalogue", params={"service_type": service_type})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["slots"])


async def test_publish_from_a_file_over_http_then_kafka(loket: Loket, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    fid, service_type = f"fac-it-{tag}", f"xray.tomography-{tag}"
    path = tmp_path / "facility.yaml"
    await asyncio.to_thread(path.write_text, yaml.safe_dump(facility_file(fid, service_type)))
    token = loket.stack.identity.facility(fid)

    code, said = await cli(loket.stack, tmp_path, "facility", "publish", str(path), "--dry-run")
    assert code == 0 and "2 to publish" in said and "dry run" in said, said
    code, said = await cli(loket.stack, tmp_path, "facility", "publish", str(path), token=token)
    assert code == 0 and "sequence 2" in said, said
    await loket.caught_up("loket-allocation", "loket.facility.capacity.v1")
    assert [s["free_units"] for s in await catalogue(loket, service_type)] == [9]
    code, said = await cli(loket.stack, tmp_path, "facility", "publish", str(path), token=token)
    assert code == 0 and "nothing new" in said, said

    doc = facility_file(fid, service_type)
    doc["withdrawals"] = [{"slot_id": "s1", "reason": "beamline maintenance"}]
    await asyncio.to_thread(path.write_text, yaml.safe_dump(doc))
    login = loket.stack.facility_access.login
    env = {
        "LOKET_KAFKA_BOOTSTRAP": loket.stack.kafka_bootstrap,
        "LOKET_FACILITY_KEY": keys.encode(loket.stack.facility_key(fid)),
        **({"LOKET_KAFKA_USER": login.username, "LOKET_KAFKA_PASSWORD": login.password}
           if login else {}),
    }  # fmt: skip
    code, said = await cli(
        loket.stack, tmp_path, "facility", "publish", str(path), "--via", "kafka", env=env
    )
    assert code == 0 and "sequence 3" in said, said
    await loket.caught_up("loket-allocation", "loket.facility.capacity.v1")
    assert await catalogue(loket, service_type) == []


async def test_a_bad_file_is_refused_with_where(loket: Loket, tmp_path: Path) -> None:
    doc = facility_file("fac-it-bad", "xray.tomography-bad")
    doc["slots"][0]["capacity_units"] = "lots"
    path = tmp_path / "facility.yaml"
    await asyncio.to_thread(path.write_text, yaml.safe_dump(doc))
    code, said = await cli(loket.stack, tmp_path, "facility", "publish", str(path), "--dry-run")
    assert code == 1 and "Not a valid file" in said and "capacity_units" in said, said
