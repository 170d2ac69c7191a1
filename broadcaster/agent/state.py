"""What the agent keeps on disk: credentials (0600), the last good signed manifest, first-run time.

Everything is written to a temp file, fsync'ed and renamed, so a power cut leaves the old or the new file,
never half of one. The manifest is kept as the signed envelope and re-verified on load.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from broadcaster.protocol.files import write_atomic
from broadcaster.protocol.wire import b64decode, format_time, parse_time


class AgentState:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.credentials_path = self.dir / "credentials.json"
        self.manifest_path = self.dir / "manifest.json"
        self.meta_path = self.dir / "meta.json"

    # -- credentials -------------------------------------------------------------------------------------
    def credentials(self) -> dict[str, Any] | None:
        if not self.credentials_path.exists():
            return None
        creds: dict[str, Any] = json.loads(self.credentials_path.read_text("utf-8"))  # written by save_credentials
        return creds

    def save_credentials(self, creds: dict[str, Any]) -> None:
        write_atomic(self.credentials_path, json.dumps(creds, ensure_ascii=False, indent=1).encode(), 0o600)

    def pinned_keys(self) -> dict[str, bytes]:
        creds = self.credentials() or {}
        return {k["key_id"]: b64decode(k["public_key"]) for k in creds.get("station_keys", [])}

    def save_pinned_keys(self, keys: dict[str, bytes]) -> None:
        from broadcaster.protocol.wire import b64encode

        creds = self.credentials() or {}
        creds["station_keys"] = [{"key_id": k, "public_key": b64encode(v)} for k, v in sorted(keys.items())]
        self.save_credentials(creds)

    # -- manifest ---------------------------------------------------------------------------------------
    def save_manifest(self, envelope: dict[str, Any], etag: str | None) -> None:
        body = {"envelope": envelope, "etag": etag}
        write_atomic(self.manifest_path, json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def load_manifest(self) -> tuple[dict[str, Any] | None, str | None]:
        if not self.manifest_path.exists():
            return None, None
        try:
            body = json.loads(self.manifest_path.read_text("utf-8"))
            return body["envelope"], body.get("etag")
        except (ValueError, KeyError):
            return None, None

    # -- first run --------------------------------------------------------------------------------------
    def first_run_at(self, now: datetime) -> datetime:
        """When this device first ran (entries that ended before it are not its business)."""
        meta = json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}
        if "first_run_at" not in meta:
            meta["first_run_at"] = format_time(now)
            write_atomic(self.meta_path, json.dumps(meta).encode())
        return parse_time(meta["first_run_at"])

    def start_new_identity(self, device_id: str, now: datetime) -> None:
        """A (re-)enrollment as another device: its play log seqs start again at 1, so the old log and first-run
        time are moved aside (kept for the record, never uploaded under the new identity)."""
        old = self.credentials()
        if old and old.get("device_id") == device_id:
            return
        stamp = now.strftime("%Y%m%dT%H%M%S")
        for name in ("log", "meta.json"):
            path = self.dir / name
            if path.exists():
                path.rename(self.dir / f"{name}.before-{device_id}-{stamp}")

    def forget(self) -> None:
        """After revocation: drop the credential and the manifest (the play log stays for the record)."""
        self.credentials_path.unlink(missing_ok=True)
        self.manifest_path.unlink(missing_ok=True)
