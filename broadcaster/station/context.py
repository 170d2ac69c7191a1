"""What the station's device side needs besides a database session: signing keys, broker settings, a clock
and the nudge publishers. One per process (`app.state.broadcaster`)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.signing import KeyRing, StationKey
from broadcaster.station.entries import EntryCache
from broadcaster.station.relays import RelayRouting

if TYPE_CHECKING:
    from broadcaster.station.identities import IdentityCache
    from broadcaster.station.manifest_cache import GrantCache, ManifestCache
    from broadcaster.station.standby import StandbyCache


def commune_slug(commune_id: int) -> str:
    """The commune's name in MQTT topics and credentials: stable for the commune's life (its code may change)."""
    return f"c{commune_id}"


def village_slug(village_id: int | None) -> str:
    return f"v{village_id}" if village_id is not None else ""


def device_topic(commune_id: int, uid: str) -> str:
    return f"loa/{commune_slug(commune_id)}/device/{uid}/sync"


def village_topic(commune_id: int, village_id: int | None) -> str:
    return f"loa/{commune_slug(commune_id)}/village/{village_slug(village_id)}/sync"


def device_command_topic(commune_id: int, uid: str) -> str:
    """Signed commands (§4a) for one device; not retained (a device that was away syncs its manifest)."""
    return f"loa/{commune_slug(commune_id)}/device/{uid}/command"


def village_command_topic(commune_id: int, village_id: int) -> str:
    """Signed commands for every device of a village: one body fans out through the broker."""
    return f"loa/{commune_slug(commune_id)}/village/{village_slug(village_id)}/command"


@dataclass
class StationContext:
    keyring: KeyRing
    audio_dir: Path
    mqtt_device_url: str | None = None
    offline_after_s: int = 180
    timezone: str = "Asia/Ho_Chi_Minh"
    _active: StationKey | None = field(default=None, repr=False)
    cache: "ManifestCache | None" = None
    identities: "IdentityCache | None" = None  # token hash → identity (the manifest fast path)
    standby: "StandbyCache | None" = None      # commune → its standby files (§4b), re-read every 30 s
    grants: "GrantCache | None" = None         # device → hashes granted by this process (the audio fast path)
    # which URL a scheduled relay gets in the manifests: the station's hub mount (default), Icecast, or direct
    relays: RelayRouting = field(default_factory=RelayRouting)
    # stored play → its manifest entries, encoded: shared by every manifest that lists the play (entries.py)
    entries: EntryCache = field(default_factory=EntryCache, repr=False)

    # device id → monotonic instant until which a signed start command already put what it must play on air
    # (the first repetition of an emergency): its nudge may be paced (broadcaster/station/nudges.py).
    commanded: dict[int, float] = field(default_factory=dict, repr=False)

    def identity_changed(self, device_ids: Iterable[int]) -> None:
        """This process changed these devices (revoked, new timetable, new sound): forget their identities."""
        if self.identities is not None:
            self.identities.drop_devices(device_ids)

    def active_key(self) -> StationKey:
        if self._active is None:
            self._active = self.keyring.active()
        return self._active

    def public_keys(self) -> list[dict[str, str]]:
        self.active_key()  # a station's first enrollment creates its key: credentials never carry an empty set
        return [k.public_info() for k in self.keyring.all_keys()]
