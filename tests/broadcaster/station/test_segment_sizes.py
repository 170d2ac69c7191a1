"""Stored plays carry each file's size: the manifest is built from them alone (no look-up in the content table or
the store), rows stored before are given their sizes by the `segsizes` migration so the next materialization
finds nothing changed (nothing on air is cut), and a size recorded nowhere is still looked up."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import command

from broadcaster.station.timetable_plays import PlaySegment, StationPlay
from content.library.models import ContentItem
from content.store import AudioStore
from loa.db import alembic_config, session_scope, upgrade
from schedules.tables import TimetablePlay
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station_rig import make_item


def _item_segments(engine) -> list[dict]:
    with engine.connect() as c:
        rows = c.execute(sa.select(TimetablePlay.__table__.c.segments)).all()
    return [s for (segments,) in rows for s in segments if s["kind"] == "item"]


def _setup(client, engine, world, facts, clock, schedules_service):
    item = make_item(engine, world, facts, clock, status="approved", title="Thông báo tiêm chủng")
    _, creds = enroll_by_code(client, world)
    schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=HOURLY")
    schedules_service.materialize_commune(world.a, clock())
    return item, creds


def test_the_manifest_takes_sizes_from_the_stored_plays_alone(client, engine, world, facts, clock, settings,
                                                              schedules_service):
    item, creds = _setup(client, engine, world, facts, clock, schedules_service)
    segments = _item_segments(engine)
    assert segments and {s["size_bytes"] for s in segments} == {facts.size_bytes}
    # neither the content table nor the store can say the size any more: the segments still do
    with session_scope(engine) as s:
        s.get(ContentItem, item).size_bytes = None
    path = AudioStore(settings.audio_dir).path_for(facts.sha256)
    path.rename(path.with_name("moved-away"))
    r = client.get(f"{DEV}/manifest", headers=dh(creds))
    assert r.status_code == 200, r.text
    entries = r.json()["manifest"]["entries"]
    assert len(entries) >= 40 and {(e["sha256"], e["size"]) for e in entries} == {(facts.sha256, facts.size_bytes)}


def test_rows_stored_before_get_their_sizes_and_nothing_looks_edited(app, client, engine, world, facts, clock,
                                                                     schedules_service):
    _setup(client, engine, world, facts, clock, schedules_service)
    # A schema is changed on a quiet station (docs/operations.md "Upgrades with migrations": the one-shot `migrate` runs before anything else starts). The nudger, still
    # writing the manifests of the materialization above, would otherwise hold locks the downgrade's DDL takes
    # in another order, and PostgreSQL ends one of the two as a deadlock.
    assert app.state.nudger.flush(30)
    config = alembic_config(engine)
    try:
        command.downgrade(config, "segsizes-1")  # the rows as the release before `segsizes` stored them
        assert _item_segments(engine) and all("size_bytes" not in s for s in _item_segments(engine))
    finally:
        upgrade(engine)
    assert {s["size_bytes"] for s in _item_segments(engine)} == {facts.size_bytes}
    result = schedules_service.materialize_commune(world.a, clock() + timedelta(minutes=1))
    assert (result.updated, result.cut, result.deleted, result.changed, result.withdrawn) == (0, 0, 0, set(), {})


T = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def _play(*segments: PlaySegment) -> StationPlay:
    return StationPlay(T, T + timedelta(minutes=2), 2, segments, (1, "s1", T), "s1")


def test_a_size_recorded_nowhere_is_looked_up_and_an_unknown_file_is_left_out():
    sized = PlaySegment("item", 0.0, 10.0, "a" * 64, size=1000)
    unsized = PlaySegment("item", 10.0, 5.0, "b" * 64)
    gap = PlaySegment("silence", 15.0, 3.0)
    play = _play(sized, unsized, gap)
    assert play.unsized() == {"b" * 64}
    assert play.airable({"b" * 64: 500}).segments == (sized, PlaySegment("item", 10.0, 5.0, "b" * 64, size=500),
                                                      gap)
    assert play.airable({}).segments == (sized, gap)  # the file of "b" is nowhere: it cannot air
    assert _play(unsized).airable({}) is None
    assert PlaySegment.from_json({"kind": "item", "offset_s": 1, "duration_s": 2, "sha256": "c" * 64,
                                  "size_bytes": 7, "title": "T", "language": "vi", "url": None}) == \
        PlaySegment("item", 1.0, 2.0, "c" * 64, 7, "T", "vi", None)
