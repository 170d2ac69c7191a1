"""No going back (docs/device-protocol.md §4a): the newest control seq this device applied, and the commands it
applied since its manifest, kept in `control.json` (written atomically: a power cut leaves the old or the new).

- A manifest whose `seq` is below the floor is refused (`manifest_replayed`); one at or above it is taken and
  drops the commands it supersedes (the manifest built after a command already says what the command said).
- A command whose seq is below the floor is refused (`command_replayed`); one equal to it is the same command
  arriving twice (SSE and MQTT, a reconnect) and is ignored quietly.
- What the player follows is the manifest with the remaining commands laid over it (`effective`), so a stop
  or a mute holds across an agent restart until the manifest that reflects it arrives.
- A `live` command is the exception: manifests never list live sessions, so it outlives the manifests that
  follow it, until the stop for its session (which drops it), or until its entry's end has passed.
- Late joiners (§4a "Live sessions"): the station hands a box that comes (back) online the original signed
  `live` command of a session still on air, and the original `stop` of one that ended. Such a `live` may be
  below the floor (a manifest taken since) and past its two-minute push expiry: `late_live` takes it all the
  same, unless this box already took that session's stop (`ended`, persisted: the stop is final).
"""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from broadcaster.protocol.command import Command, CommandRejected, verify_command
from broadcaster.protocol.files import write_atomic
from broadcaster.protocol.manifest import Entry, Manifest

NEW, DUPLICATE = "new", "duplicate"
ENDED_KEPT = 50  # the last sessions whose stop was taken (a handful a day per commune)


class Control:
    def __init__(self, path: str | Path, pinned: Mapping[str, bytes], device_id: str, village_id: str | None) -> None:
        self.path = Path(path)
        self.device_id, self.village_id = device_id, village_id
        self.floor = 0
        self.commands: list[tuple[dict[str, Any], Command]] = []
        self.ended: list[str] = []  # live sessions (sources) whose stop this box took: never joined again
        self._lock = threading.Lock()
        self._load(pinned)

    def _load(self, pinned: Mapping[str, bytes]) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text("utf-8"))
            self.floor = int(data.get("floor", 0))
            self.ended = [str(x) for x in data.get("ended", [])][-ENDED_KEPT:]
            for envelope in data.get("commands", []):
                try:  # re-verified (a file edited on disk is not obeyed); expiry does not apply to one already taken
                    cmd = verify_command(envelope, pinned, device_id=self.device_id, village_id=self.village_id,
                                         now=None)
                    self.commands.append((envelope, cmd))
                except CommandRejected:
                    continue
        except (ValueError, TypeError, AttributeError):
            pass  # unreadable (never half-written: see write_atomic): start from the manifest's own seq

    def _save(self) -> None:
        body = {"floor": self.floor, "commands": [envelope for envelope, _ in self.commands], "ended": self.ended}
        write_atomic(self.path, json.dumps(body, ensure_ascii=False).encode("utf-8"))

    # -- manifests ---------------------------------------------------------------------------------------
    def admits_manifest(self, manifest: Manifest) -> bool:
        return manifest.seq >= self.floor

    def manifest_taken(self, manifest: Manifest) -> None:
        with self._lock:
            kept = [(env, c) for env, c in self.commands if c.seq > manifest.seq or _live_on(c, manifest)]
            if manifest.seq > self.floor or len(kept) != len(self.commands):
                self.floor = max(self.floor, manifest.seq)
                self.commands = kept
                self._save()

    # -- commands ----------------------------------------------------------------------------------------
    def classify(self, cmd: Command) -> str:
        """NEW, DUPLICATE, or raise CommandRejected('command_replayed')."""
        if cmd.seq > self.floor:
            return NEW
        if cmd.seq == self.floor and any(c.seq == cmd.seq for _, c in self.commands):
            return DUPLICATE
        raise CommandRejected("command_replayed", f"Lệnh cũ / command seq {cmd.seq} below {self.floor}")

    def command_taken(self, envelope: dict[str, Any], cmd: Command) -> None:
        with self._lock:
            self.floor = max(self.floor, cmd.seq)
            kept = self.commands
            if cmd.action == "stop":  # a live session's stop ends its live command (which outlives manifests)
                kept = self._end_live(kept, cmd)
            self.commands = (kept + [(envelope, cmd)])[-50:]
            self._save()

    def _end_live(self, kept: list[tuple[dict[str, Any], Command]], stop: Command
                  ) -> list[tuple[dict[str, Any], Command]]:
        if stop.source is not None and stop.source.startswith("l") and stop.source not in self.ended:
            self.ended = (self.ended + [stop.source])[-ENDED_KEPT:]
        return [(env, c) for env, c in kept if not (c.action == "live" and c.source == stop.source)]

    # -- late joiners (§4a "Live sessions") ------------------------------------------------------------------
    def late_live(self, envelope: dict[str, Any], cmd: Command) -> str:
        """A `live` command the station handed this box because its session is on air (verified by the caller:
        signature, targets). NEW (taken), DUPLICATE (held already), or raise CommandRejected('live_ended')."""
        if cmd.action != "live" or cmd.source is None:
            raise CommandRejected("command_invalid", "Không phải lệnh phát trực tiếp / not a live command")
        with self._lock:
            if cmd.source in self.ended:
                raise CommandRejected("live_ended", f"Phiên {cmd.source} đã dừng / its stop was taken already")
            if any(c.action == "live" and c.source == cmd.source for _, c in self.commands):
                return DUPLICATE
            self.floor = max(self.floor, cmd.seq)
            self.commands = (self.commands + [(envelope, cmd)])[-50:]
            self._save()
        return NEW

    def late_stop(self, cmd: Command) -> bool:
        """The original `stop` of a session that ended while this box was away: whatever seq it has, it ends
        that session here (a stop only ever silences). True if a live command was held and is now dropped."""
        if cmd.action != "stop" or cmd.source is None or not cmd.source.startswith("l"):
            return False
        with self._lock:
            if cmd.source in self.ended:
                return False
            kept = self._end_live(self.commands, cmd)
            dropped = len(kept) != len(self.commands)
            self.commands = kept
            self._save()
        return dropped

    # -- what the player follows ---------------------------------------------------------------------------
    def effective(self, manifest: Manifest | None) -> Manifest | None:
        if manifest is None or not self.commands:
            return manifest
        base = manifest
        for _, cmd in sorted(self.commands, key=lambda ec: ec[1].seq):
            if cmd.seq > base.seq or _live_on(cmd, base):
                manifest = apply(manifest, cmd)
        return manifest


def _live_on(cmd: Command, manifest: Manifest) -> bool:
    """A live command still in force under this manifest (manifests never list live sessions)."""
    return cmd.action == "live" and any(e.end > manifest.generated_at for e in cmd.entries)


def apply(manifest: Manifest, cmd: Command) -> Manifest:
    """The manifest as the command says it now is (pure)."""
    if cmd.action == "sound":
        return replace(manifest, volume=manifest.volume if cmd.volume is None else cmd.volume,
                       muted=manifest.muted if cmd.muted is None else cmd.muted)
    if cmd.action in ("start", "live"):  # an emergency's entries under the ids its manifest will give them; live
        known = {e.play_id for e in manifest.entries}
        added = tuple(e for e in cmd.entries if e.play_id not in known)
        entries = tuple(sorted(manifest.entries + added, key=lambda e: (e.start, -e.level, e.play_id)))
        return replace(manifest, entries=entries, emergency=manifest.emergency or cmd.action == "start")
    assert cmd.cut_at is not None
    entries = tuple(e for e in (_cut(e, cmd.source, cmd.cut_at) for e in manifest.entries) if e is not None)
    return replace(manifest, entries=entries)


def _cut(entry: Entry, source: str | None, at: datetime) -> Entry | None:
    if entry.source != source or entry.end <= at:
        return entry
    if entry.start >= at:
        return None
    return replace(entry, end=at, duration=(at - entry.start).total_seconds())
