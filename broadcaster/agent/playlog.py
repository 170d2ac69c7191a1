"""Append-only proof-of-play log (JSON lines, fsync'ed), uploaded in batches, acknowledged by sequence number.

`plays.jsonl` holds records; `plays.ack` holds the highest seq the station acknowledged. The next seq is one more
than the highest ever used (from the log, or the ack file after compaction), so seqs never repeat across
restarts. A half-written last line (power cut mid-write) is cut off on open.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from broadcaster.protocol.wire import RESULTS

# The reason of an "interrupted" record written when the agent itself was stopped (systemd stop, an upgrade, a
# restart) while a play was on air: the station learns it aired until then, and the play may start again on
# the box's next run within its grace (docs/device-protocol.md, "What a device plays, when", rule 7).
AGENT_STOPPED = "agent_stopped"

@dataclass(frozen=True)
class PlayRecord:
    seq: int
    play_id: str
    sha256: str | None
    title: str
    priority: str
    planned_start: str
    actual_start: str | None
    actual_end: str | None
    result: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies field by field, and a stop writes this on the player's path
        return {"seq": self.seq, "play_id": self.play_id, "sha256": self.sha256, "title": self.title,
                "priority": self.priority, "planned_start": self.planned_start, "actual_start": self.actual_start,
                "actual_end": self.actual_end, "result": self.result, "reason": self.reason}


class PlayLog:
    def __init__(self, directory: str | os.PathLike[str], compact_after: int = 5000, keep_recent: int = 2000) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "plays.jsonl"
        self.ack_path = self.directory / "plays.ack"
        self.compact_after = compact_after
        self.keep_recent = keep_recent
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = self._load()
        self.acked_seq = int(self.ack_path.read_text().strip() or 0) if self.ack_path.exists() else 0
        self.last_seq = max([r["seq"] for r in self._records] + [self.acked_seq])

    def _load(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        raw = self.log_path.read_bytes()
        records: list[dict[str, Any]] = []
        good = 0
        for line in raw.splitlines(keepends=True):
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn line")
                records.append(json.loads(line))
                good += len(line)
            except ValueError:
                break
        if good != len(raw):  # drop a torn tail so the next append starts on a clean line
            with open(self.log_path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())
        return records

    def append(self, *, play_id: str, sha256: str | None, title: str, priority: str, planned_start: str,
               actual_start: str | None, actual_end: str | None, result: str, reason: str | None = None) -> PlayRecord:
        if result not in RESULTS:
            raise ValueError(f"Kết quả không rõ / unknown result {result!r}")
        with self._lock:
            record = PlayRecord(self.last_seq + 1, play_id, sha256, title, priority, planned_start,
                                actual_start, actual_end, result, reason)
            line = json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
            with open(self.log_path, "ab") as fh:
                fh.write(line.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            self.last_seq = record.seq
            self._records.append(record.to_dict())
            return record

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def handled_play_ids(self) -> set[str]:
        """Plays this box is done with: every play id with a record, except one whose only records say the agent
        was stopped while it aired (`AGENT_STOPPED`): that one may start again after the restart, as before."""
        with self._lock:
            return {r["play_id"] for r in self._records if r.get("reason") != AGENT_STOPPED}

    def stopped_play_ids(self) -> set[str]:
        """Plays that were on air here when the agent was stopped (a record with reason `AGENT_STOPPED`)."""
        with self._lock:
            return {r["play_id"] for r in self._records if r.get("reason") == AGENT_STOPPED}

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        """The oldest records the station has not acknowledged yet, ascending seq."""
        with self._lock:
            return [r for r in self._records if r["seq"] > self.acked_seq][:limit]

    def acknowledge(self, acked_through: int) -> None:
        """Record the station's ack durably; never move backwards or past what exists."""
        with self._lock:
            acked = min(int(acked_through), self.last_seq)
            if acked <= self.acked_seq:
                return
            tmp = self.ack_path.with_suffix(".tmp")
            with open(tmp, "w") as fh:
                fh.write(f"{acked}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.ack_path)
            self.acked_seq = acked
            if len(self._records) > self.compact_after + self.keep_recent:
                self._compact()

    def _compact(self) -> None:
        """Rewrite the log with only unacknowledged records (temp + rename); seqs continue from the ack file."""
        # Keep the recent acked records too: the player rebuilds "already handled" from them after a restart.
        recent = self._records[-self.keep_recent:]
        keep = [r for r in self._records if r["seq"] > self.acked_seq or r in recent]
        tmp = self.log_path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            for r in keep:
                fh.write((json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.log_path)
        self._records = keep

    def upload(self, send: Callable[[list[dict[str, Any]]], int], batch: int = 500) -> int:
        """Send pending records in batches via `send(records) -> acked_through` until none remain or `send`
        raises (the rest wait for the next attempt). Returns how many records were acknowledged."""
        before = self.acked_seq
        while True:
            chunk = self.pending(batch)
            if not chunk:
                break
            acked = send(chunk)
            if acked <= self.acked_seq:
                break  # the station holds a gap before this batch; try again later
            self.acknowledge(acked)
        return self.acked_seq - before
