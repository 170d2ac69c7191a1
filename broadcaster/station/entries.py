"""Stored plays → manifest entries, each with its encoded forms, shared by every manifest that lists it.

An emergency "until cancelled" of a short clip is ~13,500 plays per loudspeaker (schedules/limits.py allows
21,600), and each of a village's loudspeakers lists the same ones: an emergency's play id, times and file are the
same on every device (broadcaster.manifest_builder._play_id), only the manifest's own fields differ. Expanding a
stored play into its entries and encoding them (canonically for the version and the signature, in field order for
the envelope) is a pure function of the stored row, so it is done once per row content in this process and the
manifest is assembled from the pieces (broadcaster/station/manifests.py `prepare`): in a flood, a thousand
loudspeakers fetching their manifest no longer redo it a thousand times.

The key is the row's content: its rule key, planned start, times, priority and segments as stored (text: a hit
decodes nothing), plus the device for a play that is not an emergency's (its play id names the device); the
cache is emptied when the relay routing it is asked with changes (it rewrites relay URLs). A play with an item whose size the row does not carry is sized from
the store's files and not kept (the file may arrive later).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broadcaster.manifest_builder import expand_play
from broadcaster.protocol.manifest import Entry
from broadcaster.protocol.wire import canonical_json
from broadcaster.station.relays import RelayRouting
from broadcaster.station.timetable_plays import StationPlay


@dataclass(frozen=True, slots=True)
class Encoded:
    entry: Entry
    canonical: bytes  # canonical_json(entry.to_dict()): what the version and the signature cover
    plain: str        # entry.to_dict() as the envelope encodes it (field order, no spaces)


def encode(entry: Entry) -> Encoded:
    data = entry.to_dict()
    return Encoded(entry, canonical_json(data), json.dumps(data, ensure_ascii=False, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class _Row:
    """A row of manifests.play_rows with its segments decoded (what StationPlay.from_row reads)."""
    device_id: int
    rule_key: str
    planned_start: datetime
    start: datetime
    end: datetime
    priority: int
    segments: list[dict[str, Any]]


def _key(row: Any) -> tuple[Any, ...]:  # noqa: ANN401 — a play_rows row
    device_id, start, end, priority, segments_text, rule_key, planned = row  # play_rows' column order
    # An emergency's play id is the same on every device; another's names the device (and the planned start in
    # its own offset: manifest_builder._play_id).
    owner = None if rule_key.startswith("e") else (device_id, planned.utcoffset())
    return (owner, rule_key, planned, start, end, priority, segments_text)


class EntryCache:
    """Row content → its entries, encoded. Bounded: when full it is emptied, and the manifests are built as before
    until it fills again. A row costs about 1.5 kB here (the entry, its two encodings): 60,000 rows hold the
    largest emergency allowed (21,600 plays, shared by all its loudspeakers) and a commune's schedules."""

    def __init__(self, limit: int = 60_000) -> None:
        self.limit = limit
        self._data: dict[tuple[Any, ...], tuple[Encoded, ...]] = {}
        self._routing: RelayRouting | None = None  # what `_data` was made with (relay URLs depend on it)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def entries(self, rows: Sequence[Any], uid: str, routing: RelayRouting | None,
                sizes_of: Callable[[set[str]], dict[str, int]]) -> list[tuple[Encoded, ...]]:
        """Each row's entries (empty: nothing of it can air), in the rows' order. `sizes_of`: byte counts of
        files whose size a row does not carry (manifests.sizes_of)."""
        if routing != self._routing:
            with self._lock:
                self._data, self._routing = {}, routing
        data = self._data
        out: list[tuple[Encoded, ...] | None] = []
        missing: list[tuple[int, tuple[Any, ...]]] = []
        for i, row in enumerate(rows):
            key = _key(row)
            hit = data.get(key)
            if hit is None:
                missing.append((i, key))
            out.append(hit)
        if missing:
            route = routing.segments if routing is not None else None
            plays = [StationPlay.from_row(_decoded(rows[i]), route) for i, _ in missing]
            unsized = set().union(*(p.unsized() for p in plays))
            sizes = sizes_of(unsized) if unsized else {}
            made: dict[tuple[Any, ...], tuple[Encoded, ...]] = {}
            for (i, key), play in zip(missing, plays):
                airable = play.airable(sizes)
                # `uid` only names a play without a key, and a stored play always has one: shared safely
                encoded = () if airable is None else tuple(encode(e) for e in expand_play(airable, uid))
                out[i] = encoded
                if not play.unsized():
                    made[key] = encoded
            with self._lock:
                if routing != self._routing:
                    return [x if x is not None else () for x in out]  # made with another routing: not kept
                if len(self._data) + len(made) > self.limit:
                    self._data.clear()
                self._data.update(made)
        return [x if x is not None else () for x in out]


def _decoded(row: Any) -> _Row:  # noqa: ANN401 — a play_rows row
    return _Row(row.device_id, row.rule_key, row.planned_start, row.start, row.end, row.priority,
                json.loads(row.segments_text or "[]"))
