"""Build one device's manifest from its scheduled plays (server side, pure: no DB, no clock).

A *play* is one scheduled programme on one device: device_id, start, (end), priority and a list of items
(`entries`, `items` or the scheduler's `segments`: sha256, size, duration or duration_s, offset_s, title, language,
kind, url). Plays may be dicts or objects with those attributes, e.g. `schedules.model.Play` (duck-typed: this module
does not import the scheduler).

The covered window is day-aligned (local midnight today .. +horizon+1 day), so regenerating the manifest during a
day gives the same version unless the timetable itself changed; the version is a hash of the content only.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from broadcaster.protocol.manifest import Entry, Manifest, Standby, with_version
from broadcaster.protocol.wire import API_PREFIX, LEVELS

HORIZON = timedelta(hours=72)


def audio_url(sha256: str) -> str:
    return f"{API_PREFIX}/audio/{sha256}"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _ms(value: datetime) -> datetime:
    """The wire carries milliseconds: truncate so a manifest equals itself after a round trip."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


_KINDS = {"audio": "audio", "item": "audio", "relay": "relay", "silence": "silence"}
_PRIORITY_NAMES = {v: k for k, v in LEVELS.items()}


def _name(value: Any) -> str:
    """Enum members (the scheduler's SegmentKind / Priority) and plain strings alike."""
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return _PRIORITY_NAMES[int(value)]
    return str(value)


def _priority(play: Any) -> str:
    raw = _get(play, "priority", "normal")
    try:
        priority = _name(raw).lower() if not isinstance(raw, int) else _PRIORITY_NAMES[int(raw)]
    except KeyError:
        priority = str(raw)
    if priority not in LEVELS or priority == "silence":
        raise ValueError(f"Mức ưu tiên không rõ / unknown priority {raw!r}")
    return priority


def _entry_from_item(item: Any, play_id: str, priority: str, start: datetime, url_for: Callable[[str], str],
                     end: datetime | None = None, sizes: Mapping[str, int] | None = None,
                     source: str | None = None) -> Entry:
    kind = _KINDS.get(_name(_get(item, "kind", "audio") or "audio").lower())
    if kind is None:
        raise ValueError(f"Loại mục không rõ / unknown item kind {_get(item, 'kind')!r}")
    duration = float(_get(item, "duration", None) or _get(item, "duration_s"))
    sha: str | None = None
    size = 0
    url = str(_get(item, "url", "") or "")
    if kind == "audio":
        sha = str(_get(item, "sha256", "") or "")
        if not sha:
            raise ValueError("Thiếu mã băm của tệp / an audio item without its sha256")
        size = int(_get(item, "size", 0) or (sizes or {}).get(sha, 0))
        if size <= 0:
            raise ValueError(f"Thiếu kích thước tệp / no size known for {sha}")
        url = url_for(sha)
    return Entry(
        play_id=play_id, kind=kind, priority=priority, start=_ms(start),
        end=_ms(end or start + timedelta(seconds=duration)),
        sha256=sha, size=size, duration=duration,
        url=url,
        title=str(_get(item, "title", "") or ""), language=str(_get(item, "language", "vi") or "vi"),
        source=source,
    )


def _play_id(device_id: str, play: Any, items: list[Any]) -> str:
    """A stable id when the scheduler gave none. The scheduler's key (device, rule, planned start) survives a
    shifted start; otherwise: same device, instant and content → same id."""
    key = _get(play, "key", None)
    if key is not None and str(key[1]).startswith("e"):
        # An emergency's repetition has the same id on every device (rule, planned start): a signed start
        # command (§4a) names it once for a whole village before the device's manifest lists it.
        planned = key[2]
        basis = f"{key[1]}|" + (planned.astimezone(timezone.utc).isoformat() if isinstance(planned, datetime)
                                else str(planned))
    elif key is not None:
        basis = "|".join(x.isoformat() if isinstance(x, datetime) else str(x) for x in key)
    else:
        basis = device_id + "|" + _get(play, "start").isoformat() + "|" + \
            "|".join(str(_get(i, "sha256") or _get(i, "url")) for i in items)
    return "p-" + hashlib.sha256(basis.encode()).hexdigest()[:16]


def expand_play(play: Any, device_id: str, url_for: Callable[[str], str] = audio_url,
                sizes: Mapping[str, int] | None = None) -> list[Entry]:
    """One play → one entry per item: at the item's `offset_s` if it has one, else back to back; nothing
    beyond the play's `end` (a play the scheduler cut short)."""
    items = list(_get(play, "entries", None) or _get(play, "items", None) or _get(play, "segments", None) or [])
    if not items:
        return []
    start: datetime = _get(play, "start")
    if start.tzinfo is None:
        raise ValueError("Thời điểm phát thiếu múi giờ / play start is naive")
    play_end: datetime | None = _get(play, "end", None)
    priority = _priority(play)
    base_id = _get(play, "play_id", None) or _get(play, "id", None) or _play_id(device_id, play, items)
    raw_source = _get(play, "source", None)  # the rule behind it: a signed stop command names it (§4a)
    source = None if raw_source is None else str(raw_source)
    entries: list[Entry] = []
    cursor = start
    for index, item in enumerate(items):
        play_id = str(base_id) if len(items) == 1 else f"{base_id}.{index + 1}"
        offset = _get(item, "offset_s", None)
        item_start = start + timedelta(seconds=float(offset)) if offset is not None else cursor
        if play_end is not None and item_start >= play_end:
            break
        # A lone relay/silence item may carry its own end (the play's end) rather than a duration.
        lone = len(items) == 1 and _KINDS.get(_name(_get(item, "kind", "audio")).lower()) != "audio"
        entry = _entry_from_item(item, play_id, priority, item_start, url_for, play_end if lone else None, sizes,
                                 source)
        if play_end is not None and entry.end > play_end:
            # A play the station cut (a cancel, a stop: its stored `end` moved, maybe not its segments) ends
            # there on the device too: before this, the manifest kept the file's full length (issue 12).
            entry = replace(entry, end=play_end, duration=(play_end - entry.start).total_seconds())
        entries.append(entry)
        cursor = entry.end
    return entries


def coverage(now: datetime, tz: str, horizon: timedelta = HORIZON) -> tuple[datetime, datetime]:
    """Day-aligned window containing [now, now + horizon]."""
    local = now.astimezone(ZoneInfo(tz))
    start = datetime.combine(local.date(), time(0), tzinfo=ZoneInfo(tz))
    return start, start + horizon + timedelta(days=1)


def build_manifest(device_id: str, plays: Iterable[Any], now: datetime, *, volume: int = 100, muted: bool = False,
                   fallback: Any | None = None, tz: str = "Asia/Ho_Chi_Minh", horizon: timedelta = HORIZON,
                   url_for: Callable[[str], str] = audio_url, sizes: Mapping[str, int] | None = None,
                   standby: Mapping[str, int] | None = None) -> Manifest:
    """The manifest for `device_id` at `now`: its plays overlapping the window, sorted, versioned (unsigned).
    (`assemble_manifest`'s arguments; the station signs with `protocol.manifest.versioned`, one encoding for the
    version and the signature.)"""
    return with_version(assemble_manifest(device_id, plays, now, volume=volume, muted=muted, fallback=fallback,
                                          tz=tz, horizon=horizon, url_for=url_for, sizes=sizes, standby=standby))


def assemble_manifest(device_id: str, plays: Iterable[Any], now: datetime, *, volume: int = 100,
                      muted: bool = False, fallback: Any | None = None, tz: str = "Asia/Ho_Chi_Minh",
                      horizon: timedelta = HORIZON, url_for: Callable[[str], str] = audio_url,
                      sizes: Mapping[str, int] | None = None, standby: Mapping[str, int] | None = None,
                      seq: int = 0, expand: Callable[[Any], Iterable[Entry]] | None = None) -> Manifest:
    """`build_manifest` without its version (the caller fills it in), with a control seq (§4a). `expand`: a
    play's entries when the caller has them already (the station's entry cache), instead of `expand_play`.

    `fallback`: an item (sha256, size, duration, title) with optional start/end (its window, default the whole
    coverage window). `sizes`: byte counts by sha256 for items that do not carry `size` (the
    station's stored plays do: broadcaster/station/timetable_plays.py). `standby`: sha256 → size of files the
    device should hold ahead of need (§4b: approved emergency messages), listed in hash order.
    """
    if now.tzinfo is None:
        raise ValueError("`now` phải có múi giờ / now must be tz-aware")
    window_start, window_end = coverage(now, tz, horizon)
    entries: list[Entry] = []
    for play in plays:
        owner = _get(play, "device_id", None)
        if owner is not None and owner != device_id:
            continue
        for entry in (expand_play(play, device_id, url_for, sizes) if expand is None else expand(play)):
            if entry.end > window_start and entry.start < window_end:
                entries.append(entry)
    entries.sort(key=lambda e: (e.start, -e.level, e.play_id))
    seen: set[str] = set()
    for entry in entries:
        if entry.play_id in seen:
            raise ValueError(f"Trùng mã lượt phát / duplicate play id {entry.play_id}")
        seen.add(entry.play_id)
    fallback_entry = None
    if fallback is not None:
        fb_start = _get(fallback, "start") or window_start
        fb_end = _get(fallback, "end") or window_end
        fallback_entry = _entry_from_item(fallback, "fallback-" + str(_get(fallback, "sha256"))[:12], "fallback",
                                          fb_start, url_for, fb_end, sizes)
    manifest = Manifest(
        device_id=device_id, version="", generated_at=_ms(now), valid_until=window_end, volume=volume, muted=muted,
        emergency=any(e.priority == "emergency" and e.end > now for e in entries),
        timezone=tz, fallback=fallback_entry, entries=tuple(entries),
        standby=tuple(Standby(sha, int(size), url_for(sha)) for sha, size in sorted((standby or {}).items())
                      if size and int(size) > 0), seq=seq,
    )
    return manifest
