"""Trust checks on the device: a manifest must carry a pinned key's signature and be for this device; an audio
file must hash to its name. Refusals are reported (they go out with the next heartbeat)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from broadcaster.agent.store import AudioStore
from broadcaster.protocol.manifest import Manifest, ManifestRejected, verify_keyset, verify_manifest

Report = Callable[[str, str], None]


class Verifier:
    def __init__(self, pinned: dict[str, bytes], device_id: str, report: Report) -> None:
        self.pinned = dict(pinned)
        self.device_id = device_id
        self.report = report

    def manifest(self, envelope: Any, now: datetime) -> Manifest | None:
        """The verified manifest, or None (refused and reported; the caller keeps its last good one)."""
        try:
            return verify_manifest(envelope, self.pinned, device_id=self.device_id, now=now)
        except ManifestRejected as exc:
            self.report(exc.code, exc.message)
            return None

    def keyset(self, envelope: Any) -> dict[str, bytes] | None:
        try:
            self.pinned = verify_keyset(envelope, self.pinned)
            return self.pinned
        except (ManifestRejected, KeyError, TypeError, ValueError) as exc:
            self.report("manifest_signature_invalid", f"keyset: {exc}")
            return None

    def audio(self, store: AudioStore, sha256: str) -> bool:
        """Re-hash an installed file; a tampered one is deleted (and will be fetched again) and reported."""
        if store.locate(sha256) is None:
            return False
        if store.check(sha256):
            return True
        self.report("audio_hash_mismatch", f"{sha256} (on disk)")
        return False
