"""This station in the interchange: its id (a name peers register us under) and its signing key.

The key is the station's own Ed25519 key (broadcaster/signing.py, `<data dir>/keys/`), the one that signs
device manifests: one key to guard, back up and rotate. The id is LOA_INTERCHANGE_STATION_ID, or made once and
kept in the database (table `interchange_identity`), so it survives key rotation and travels with `loa backup`
and `loa restore`: peers registered us under it.
"""
from __future__ import annotations

import secrets

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from broadcaster.interchange.models import StationIdentity
from broadcaster.signing import KeyRing, StationKey
from loa.db import session_scope
from loa.settings import Settings


def stored_station_id(engine: Engine) -> str:
    """The id made at first use (two processes racing: the first insert wins, both read it)."""
    for _ in range(2):
        try:
            with session_scope(engine) as s:
                row = s.get(StationIdentity, 1)
                if row is None:
                    row = StationIdentity(id=1, station_id="loa-" + secrets.token_hex(6))
                    s.add(row)
                    s.flush()
                return row.station_id
        except IntegrityError:
            continue
    raise RuntimeError("interchange_identity: no row after two tries")


class Identity:
    def __init__(self, keyring: KeyRing, engine: Engine, configured: str | None = None) -> None:
        self.keyring, self.engine, self._station_id = keyring, engine, configured or None

    @property
    def station_id(self) -> str:
        """Read at first use (the app is built before its database is migrated)."""
        if self._station_id is None:
            self._station_id = stored_station_id(self.engine)
        return self._station_id

    def key(self) -> StationKey:
        return self.keyring.active()

    def public_info(self) -> dict[str, str]:
        return {"station_id": self.station_id, **self.key().public_info()}


def load(settings: Settings, engine: Engine) -> Identity:
    return Identity(KeyRing(settings.resolved_data_dir / "keys"), engine, settings.interchange_station_id)
