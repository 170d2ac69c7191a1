"""The stored timetable plays (schedules' `timetable_plays` rows) as typed values for the manifest builder.

A row's segments are JSON written by `schedules.store.segments_json`; here they become `PlaySegment`s with the
attribute names `broadcaster.manifest_builder` reads (`size`, `duration_s`, …), and a row becomes a
`StationPlay`. Segments carry their file's size (migration `segsizes`), so no look-up is needed to list them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from collections.abc import Callable
from typing import Any

ITEM = "item"


@dataclass(frozen=True, slots=True)
class PlaySegment:
    kind: str  # "item", "silence" or "relay"
    offset_s: float
    duration_s: float
    sha256: str | None = None
    size: int = 0  # bytes of the audio file (items); 0: not known
    title: str = ""
    language: str | None = None
    url: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PlaySegment:
        return cls(kind=str(raw.get("kind") or ITEM), offset_s=float(raw.get("offset_s") or 0.0),
                   duration_s=float(raw.get("duration_s") or 0.0), sha256=raw.get("sha256") or None,
                   size=int(raw.get("size_bytes") or 0), title=str(raw.get("title") or ""),
                   language=raw.get("language"), url=raw.get("url"))

    @property
    def is_item(self) -> bool:
        return self.kind == ITEM


@dataclass(frozen=True, slots=True)
class StationPlay:
    """One play on one device: `key` (device, rule key, planned start) gives it a stable id, `source` (the rule
    key) lets a signed stop command name it (§4a)."""

    start: datetime
    end: datetime
    priority: int
    segments: tuple[PlaySegment, ...]
    key: tuple[int | None, str, datetime]
    source: str

    @classmethod
    def from_row(cls, row: Any,  # noqa: ANN401 — a row of manifests.play_rows' query
                 route: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None) -> StationPlay:
        """`route`: rewrites the stored segments first (a relay's radio URL → the one loudspeakers get,
        broadcaster/station/relays.py)."""
        raw = list(row.segments) if route is None else route(list(row.segments))
        return cls(row.start, row.end, int(row.priority), tuple(PlaySegment.from_json(s) for s in raw),
                   (row.device_id, row.rule_key, row.planned_start), row.rule_key)

    def unsized(self) -> set[str]:
        """Hashes of the items whose size the segment does not carry (a file whose size was never recorded)."""
        return {s.sha256 for s in self.segments if s.is_item and s.sha256 and s.size <= 0}

    def airable(self, sizes: Mapping[str, int]) -> StationPlay | None:
        """The play with every item sized (from the segment, else `sizes`); an item whose size is known nowhere
        cannot be fetched, so it is left out, and a play left with nothing is None."""
        if all(s.size > 0 and s.sha256 for s in self.segments if s.is_item):
            return self if self.segments else None  # the usual case: every item carries its size
        segments = []
        for s in self.segments:
            if s.is_item:
                size = s.size if s.size > 0 else int(sizes.get(s.sha256 or "", 0))
                if not s.sha256 or size <= 0:
                    continue
                s = replace(s, size=size)
            segments.append(s)
        return replace(self, segments=tuple(segments)) if segments else None
