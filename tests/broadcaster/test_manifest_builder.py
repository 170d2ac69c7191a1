from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broadcaster.manifest_builder import build_manifest
from broadcaster.protocol.manifest import verify_manifest
from broadcaster.signing import generate_key

HN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 9, 15, tzinfo=HN)
SHA = ["a" * 64, "b" * 64, "c" * 64]


@dataclass
class Item:
    sha256: str
    size: int
    duration: float
    title: str
    language: str = "vi"


@dataclass
class Play:
    device_id: str
    start: datetime
    end: datetime
    priority: str
    entries: list


def plays():
    return [
        # as dataclasses: the morning programme of two items back to back
        Play("dev_1", NOW.replace(hour=17, minute=0), NOW.replace(hour=17, minute=10), "normal",
             [Item(SHA[0], 1000, 300, "Bản tin sáng"), Item(SHA[1], 2000, 120.5, "Thông báo")]),
        # as dicts, a later day, with an explicit id
        {"device_id": "dev_1", "play_id": "p-77", "start": NOW + timedelta(days=1), "end": NOW + timedelta(days=1, minutes=1),
         "priority": "priority", "entries": [{"sha256": SHA[2], "size": 30, "duration": 60, "title": "Khẩn"}]},
        # another device's play
        {"device_id": "dev_2", "start": NOW, "end": NOW + timedelta(minutes=1), "priority": "normal",
         "entries": [{"sha256": SHA[2], "size": 30, "duration": 60, "title": "x"}]},
        # beyond the horizon
        {"device_id": "dev_1", "start": NOW + timedelta(days=5), "end": NOW + timedelta(days=5, minutes=1),
         "priority": "normal", "entries": [{"sha256": SHA[2], "size": 30, "duration": 60, "title": "far"}]},
    ]


def test_builds_entries_back_to_back_for_one_device():
    m = build_manifest("dev_1", plays(), NOW, volume=70, fallback={"sha256": SHA[0], "size": 1000, "duration": 300,
                                                                    "title": "Nhạc"})
    assert [e.title for e in m.entries] == ["Bản tin sáng", "Thông báo", "Khẩn"]
    first, second = m.entries[0], m.entries[1]
    assert second.start == first.end == first.start + timedelta(seconds=300)
    assert first.play_id.endswith(".1") and second.play_id.endswith(".2")
    assert m.entries[2].play_id == "p-77" and m.entries[2].priority == "priority"
    assert m.entries[0].url == "/api/device/v1/audio/" + SHA[0]
    assert m.valid_until >= NOW + timedelta(hours=72)
    assert m.fallback is not None and m.fallback.priority == "fallback"
    assert m.needed_hashes() == set(SHA)
    key = generate_key()
    assert verify_manifest(key.sign(m), {key.key_id: key.public_raw}, device_id="dev_1", now=NOW) == m


def test_version_stable_across_regenerations_and_changes_with_content():
    a = build_manifest("dev_1", plays(), NOW)
    b = build_manifest("dev_1", list(reversed(plays())), NOW + timedelta(hours=2))
    assert a.generated_at != b.generated_at
    assert a.version == b.version
    changed = plays()
    changed[0].entries[1] = Item(SHA[1], 2000, 120.5, "Thông báo (sửa)")
    assert build_manifest("dev_1", changed, NOW).version != a.version
    assert build_manifest("dev_1", plays(), NOW, volume=50).version != a.version
    assert build_manifest("dev_1", plays(), NOW, muted=True).version != a.version
    moved = plays()
    moved[1]["start"] += timedelta(seconds=1)
    assert build_manifest("dev_1", moved, NOW).version != a.version


def test_emergency_flag_and_bad_input():
    p = plays() + [{"device_id": "dev_1", "start": NOW, "end": NOW + timedelta(minutes=2), "priority": "emergency",
                    "entries": [{"sha256": SHA[2], "size": 30, "duration": 90, "title": "Lũ quét"}]}]
    m = build_manifest("dev_1", p, NOW)
    assert m.emergency and m.entries[0].priority == "emergency"
    with pytest.raises(ValueError):
        build_manifest("dev_1", plays(), NOW.replace(tzinfo=None))
    with pytest.raises(ValueError):
        build_manifest("dev_1", [{"device_id": "dev_1", "start": NOW, "priority": "loud",
                                  "entries": [{"sha256": SHA[0], "size": 1, "duration": 1}]}], NOW)


def test_accepts_the_schedulers_play_objects():
    """The station feeds schedules.model.Play straight in: segments with offsets, IntEnum priority, no sizes."""
    from schedules.model import Play as SPlay, Priority, Segment, SegmentKind

    start = NOW.replace(hour=18, minute=0)
    play = SPlay(device_id="dev_1", rule_id="r-7", start=start, end=start + timedelta(seconds=400),
                 priority=Priority.PRIORITY, planned_start=start, title="Chiều", segments=(
                     Segment(0, 120, SegmentKind.ITEM, "c1", SHA[0], "Tin chiều", "vi"),
                     Segment(125, 60, SegmentKind.SILENCE),
                     Segment(185, 200, SegmentKind.ITEM, "c2", SHA[1], "Tiếng Giáy", "gig"),
                     Segment(400, 30, SegmentKind.ITEM, "c3", SHA[2], "cut off by the play's end"),
                 ))
    relay = SPlay(device_id="dev_1", rule_id="r-8", start=start + timedelta(hours=1),
                  end=start + timedelta(hours=1, minutes=30), priority=Priority.NORMAL,
                  planned_start=start + timedelta(hours=1), segments=(
                      Segment(0, 1800, SegmentKind.RELAY, url="http://vov1.example/live"),))
    sizes = {SHA[0]: 111, SHA[1]: 222}
    m = build_manifest("dev_1", [play, relay], NOW, sizes=sizes)
    kinds = [(e.kind, e.priority, (e.start - start).total_seconds(), e.size) for e in m.entries]
    assert kinds == [("audio", "priority", 0, 111), ("silence", "priority", 125, 0), ("audio", "priority", 185, 222),
                     ("relay", "normal", 3600, 0)]
    assert m.entries[2].language == "gig" and m.entries[3].url == "http://vov1.example/live"
    # the play id comes from the scheduler's key, so a shifted start keeps it
    shifted = SPlay(device_id="dev_1", rule_id="r-8", start=relay.start + timedelta(minutes=2),
                    end=relay.end + timedelta(minutes=2), priority=Priority.NORMAL, planned_start=relay.planned_start,
                    segments=relay.segments)
    assert build_manifest("dev_1", [shifted], NOW).entries[0].play_id == m.entries[3].play_id
    with pytest.raises(ValueError, match="size"):
        build_manifest("dev_1", [play], NOW)  # no size known for the audio
