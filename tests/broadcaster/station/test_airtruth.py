"""The pure rules of what the loudspeakers really did (broadcaster/station/airtruth.py), at fixed instants:
what a loudspeaker does now from its last report, and whether each targeted loudspeaker confirmed a stop."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broadcaster.station.airtruth import (
    CONFIRM_WITHIN_S,
    Heard,
    PlayFact,
    Span,
    Target,
    confirm_stop,
    device_stop,
    now_state,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 3, 2, 14, 0, tzinfo=TZ)           # the emergency starts
STOP = START + timedelta(seconds=10)                     # the cadre taps STOP
SPAN = Span("emergency", START, START + timedelta(hours=6))
TARGET = Target(7, "Cụm loa Ún Tà", SPAN)
OFFLINE = 900.0


def at(seconds: float) -> datetime:
    return STOP + timedelta(seconds=seconds)


def playing(started: datetime, priority: str = "emergency", play_id: str = "p-em") -> dict:
    return {"play_id": play_id, "sha256": "ab" * 32, "title": "Lũ quét", "priority": priority,
            "started_at": started.astimezone(TZ).isoformat()}


def record(planned: datetime, start: datetime | None, end: datetime | None, result: str, received: datetime,
           priority: str = "emergency") -> PlayFact:
    return PlayFact("p-em", priority, planned, start, end, result, received)


# ------------------------------------------------------------------ now


def test_now_state_says_what_the_last_report_said_and_how_old_it_is():
    now = START + timedelta(minutes=12)
    none = now_state(None, now, OFFLINE)
    assert none.playing is None and none.reported_at is None and none.out_of_contact
    fresh = now_state(Heard(now - timedelta(seconds=20), playing(START)), now, OFFLINE)
    assert fresh.playing["title"] == "Lũ quét" and fresh.age_s == 20 and not fresh.old and not fresh.out_of_contact
    # A beat is due every 300 s: at 361 s without one the report is old, at 900 s the device is out of contact.
    assert not now_state(Heard(now - timedelta(seconds=360), None), now, OFFLINE).old
    old = now_state(Heard(now - timedelta(seconds=361), playing(START)), now, OFFLINE)
    assert old.old and not old.out_of_contact and old.playing is not None
    gone = now_state(Heard(now - timedelta(seconds=900), playing(START)), now, OFFLINE)
    assert gone.old and gone.out_of_contact and gone.age_s == 900


def test_span_matches_only_this_broadcasts_plays():
    assert SPAN.holds_playing(playing(START + timedelta(seconds=1)))
    assert SPAN.holds_playing(playing(START - timedelta(seconds=4)))      # a device clock a little early
    assert not SPAN.holds_playing(playing(START - timedelta(minutes=5)))  # an earlier emergency
    assert not SPAN.holds_playing(playing(START, priority="normal"))
    assert not SPAN.holds_playing(None) and not SPAN.holds_playing({"priority": "emergency"})
    assert not Span("emergency", START, at(30)).holds_playing(playing(at(31)))  # the next emergency's


# ------------------------------------------------------------------ stop


def test_no_word_yet_is_waiting_then_unconfirmed_after_ten_seconds():
    before = Heard(STOP - timedelta(seconds=1), playing(START))  # heard before the stop: says nothing of it
    assert device_stop(TARGET, STOP, before, [], at(3)).state == "waiting"
    assert device_stop(TARGET, STOP, before, [], at(CONFIRM_WITHIN_S - 0.001)).state == "waiting"
    late = device_stop(TARGET, STOP, before, [], at(CONFIRM_WITHIN_S))
    assert late.state == "unconfirmed" and late.last_heard == STOP - timedelta(seconds=1)
    assert late.stopped_at is None and late.confirmed_at is None


def test_a_heartbeat_after_the_stop_that_plays_nothing_confirms():
    d = device_stop(TARGET, STOP, Heard(at(1.4), None), [], at(2))
    assert d.state == "confirmed" and d.confirmed_at == at(1.4) and d.stopped_at is None


def test_a_heartbeat_after_the_stop_that_still_plays_it_does_not():
    d = device_stop(TARGET, STOP, Heard(at(5), playing(START)), [], at(30))
    assert d.state == "unconfirmed" and d.playing_after_stop_at == at(5)


@pytest.mark.parametrize("other", [playing(at(2), priority="normal", play_id="p-news"),
                                   playing(START + timedelta(hours=7), play_id="p-next-emergency")])
def test_playing_something_else_after_the_stop_confirms(other):
    assert device_stop(TARGET, STOP, Heard(at(3), other), [], at(4)).state == "confirmed"


def test_the_interrupted_record_confirms_with_the_time_it_really_stopped():
    rec = record(START, START + timedelta(seconds=0.3), at(1.2), "interrupted", at(1.5))
    d = device_stop(TARGET, STOP, Heard(STOP - timedelta(seconds=9), playing(START)), [rec], at(2))
    assert d.state == "confirmed" and d.stopped_at == at(1.2) and d.confirmed_at == at(1.5)
    assert d.delay_s == pytest.approx(1.2)


def test_a_play_that_ended_before_the_stop_says_nothing_about_the_stop():
    earlier = record(START - timedelta(minutes=1), START - timedelta(minutes=1), STOP - timedelta(seconds=1),
                     "played", STOP - timedelta(seconds=1))
    assert device_stop(TARGET, STOP, None, [earlier], at(11)).state == "unconfirmed"


def test_offline_at_the_stop_confirms_at_its_next_contact_with_when_it_stopped():
    """Cut off at the stop, the box kept playing its old manifest: one repetition to its end, the next one
    until it got back in touch 12 minutes later. Unconfirmed meanwhile; then stopped at 12 minutes."""
    old_beat = Heard(STOP - timedelta(seconds=20), playing(START))
    assert device_stop(TARGET, STOP, old_beat, [], at(600)).state == "unconfirmed"
    back = at(720)
    recs = [record(START, START, at(25), "played", back + timedelta(seconds=1)),
            record(START + timedelta(seconds=35), at(25), back, "interrupted", back + timedelta(seconds=1))]
    d = device_stop(TARGET, STOP, Heard(back + timedelta(seconds=1), None), recs, back + timedelta(seconds=5))
    assert d.state == "confirmed" and d.stopped_at == back and d.delay_s == 720
    assert d.playing_after_stop_at == at(25) and d.confirmed_at == back + timedelta(seconds=1)


def test_still_playing_the_next_repetition_is_not_a_stop():
    """Back to back: the first repetition's record ends as the second starts, and nothing has come since."""
    recs = [record(START, START, at(30), "played", at(31)), record(at(30), at(30), None, "failed", at(31))]
    assert device_stop(TARGET, STOP, Heard(at(31), playing(at(30))), recs[:1], at(40)).state == "unconfirmed"
    # A heartbeat saying silent after the first record, but a later record shows the next one started: not yet.
    rep2 = record(at(30), at(30), at(70), "played", at(71))
    d = device_stop(TARGET, STOP, Heard(at(31), None), [recs[0], rep2], at(80))
    assert d.state == "confirmed" and d.stopped_at == at(70)
    start_only = record(at(30), at(30), None, "interrupted", at(71))  # no end time: it was still going
    assert device_stop(TARGET, STOP, Heard(at(20), None), [recs[0], start_only], at(80)).state == "unconfirmed"


def test_the_whole_stop_counts_and_names_the_unconfirmed():
    targets = [Target(1, "Cụm 1", SPAN), Target(2, "Cụm 2", SPAN), Target(3, "Cụm 3", SPAN)]
    reports = {1: Heard(at(1), None), 2: Heard(at(2), playing(START))}
    early = confirm_stop(STOP, targets, reports, {}, at(5))
    assert (early.confirmed, early.total, early.done, early.unconfirmed) == (1, 3, False, ())
    late = confirm_stop(STOP, targets, reports, {}, at(12))
    assert [d.name for d in late.unconfirmed] == ["Cụm 2", "Cụm 3"] and not late.done
    reports[2] = Heard(at(13), None)
    reports[3] = Heard(at(14), playing(at(13), priority="normal"))
    done = confirm_stop(STOP, targets, reports, {}, at(15))
    assert done.done and done.confirmed == done.total == 3 and done.unconfirmed == ()
    assert confirm_stop(STOP, [], {}, {}, at(0)).done  # reached no loudspeaker: nothing to wait for


def test_a_stopped_broadcast_is_never_counted_completed():
    from broadcaster.station.airtruth import counted_as

    assert counted_as("played", at(-1), None) == "completed"
    assert counted_as("played", at(-1), STOP) == "completed"             # it had ended before the stop
    assert counted_as("played", at(20), STOP) == "played_after_stop"     # it ran on past the stop
    assert counted_as("interrupted", at(1), STOP) == "interrupted"
    assert counted_as("skipped", None, STOP) == "skipped" and counted_as("failed", None, None) == "failed"


def test_a_span_of_play_ids_matches_every_item_of_those_plays_only():
    span = Span("normal", START, STOP, frozenset({"p-0123456789abcdef"}))
    assert span.holds_playing({**playing(at(60), priority="normal"), "play_id": "p-0123456789abcdef.2"})
    assert not span.holds_playing({**playing(START, priority="normal"), "play_id": "p-ffffffffffffffff"})
    assert not span.holds_playing({**playing(START), "play_id": "p-0123456789abcdef"})  # not its priority
    rec = PlayFact("p-0123456789abcdef.1", "normal", START + timedelta(hours=9), None, None, "skipped", START)
    assert span.holds_record(rec)
