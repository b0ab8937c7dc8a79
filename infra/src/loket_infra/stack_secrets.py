"""The embedded stack's secrets, made once per data folder (`secrets.json`, mode 0600) so a
restarted stack reads its own histories again: the Temporal payload keys, the decision-seal
keys, the facility master key and every Kafka principal's password; and which process gets
which of them (each only what it needs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loket_contracts import keys, seals
from loket_messaging import facility_keys, payload_codec
from loket_messaging.kafka import KafkaLogin

from loket_infra import kafka_acls

# process → the secrets it is given
NEEDS: dict[str, tuple[str, ...]] = {
    "gateway": (payload_codec.KEYS_ENV, seals.KEYS_ENV, facility_keys.MASTER_ENV),
    "workflows": (payload_codec.KEYS_ENV, seals.KEYS_ENV),
    "allocation": (facility_keys.MASTER_ENV,),
    "charter": (facility_keys.MASTER_ENV,),
}


def new_values() -> dict[str, str]:
    """Fresh keys for a new platform, and a password for every Kafka principal."""
    return {
        payload_codec.KEYS_ENV: payload_codec.new_key(),
        seals.KEYS_ENV: seals.new_key(),
        facility_keys.MASTER_ENV: facility_keys.new_master(),
        **{f"kafka:{name}": password for name, password in kafka_acls.new_passwords().items()},
    }


@dataclass(frozen=True)
class StackSecrets:
    values: dict[str, str]

    @classmethod
    def load_or_create(cls, data_dir: Path) -> StackSecrets:
        path = data_dir / "secrets.json"
        if path.exists():
            return cls(json.loads(path.read_text()))
        values = new_values()
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
        return cls(values)

    def kafka_users(self) -> dict[str, str]:
        return {
            k.removeprefix("kafka:"): v for k, v in self.values.items() if k.startswith("kafka:")
        }

    def kafka_login(self, principal: str) -> KafkaLogin:
        return KafkaLogin(principal, self.values[f"kafka:{principal}"])

    def facility_key(self, facility_id: str) -> bytes:
        """The signing key onboarding hands to facility `facility_id`."""
        master = keys.decode(self.values[facility_keys.MASTER_ENV])
        return facility_keys.facility_key(master, facility_id)

    def env(self, process: str) -> dict[str, str]:
        return {name: self.values[name] for name in NEEDS.get(process, ())}
