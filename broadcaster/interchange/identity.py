"""This station in the interchange: its id (a name peers register us under) and its signing key.

The key is the station's own Ed25519 key (broadcaster/signing.py, `<data dir>/keys/`), the one that signs
device manifests: one key to guard, back up and rotate. The id is LOA_INTERCHANGE_STATION_ID, or made once
and kept in `<data dir>/station-id`, so it survives key rotation.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from broadcaster.protocol.files import write_atomic
from broadcaster.signing import KeyRing, StationKey


@dataclass(frozen=True)
class Identity:
    station_id: str
    keyring: KeyRing

    def key(self) -> StationKey:
        return self.keyring.active()

    def public_info(self) -> dict[str, str]:
        return {"station_id": self.station_id, **self.key().public_info()}


def station_id(data_dir: Path, configured: str | None) -> str:
    if configured:
        return configured
    path = data_dir / "station-id"
    if path.exists():
        return path.read_text().strip()
    made = "loa-" + secrets.token_hex(6)
    write_atomic(path, (made + "\n").encode(), 0o644)
    return made


def load(settings) -> Identity:
    data_dir = settings.resolved_data_dir
    return Identity(station_id(data_dir, settings.interchange_station_id), KeyRing(data_dir / "keys"))
