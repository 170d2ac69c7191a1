from __future__ import annotations

import json

import pytest

from broadcaster.agent.playlog import PlayLog


def _add(log: PlayLog, i: int, result: str = "played"):
    return log.append(play_id=f"p{i}", sha256="a" * 64, title=f"Bản tin {i}", priority="normal",
                      planned_start="2026-11-23T00:00:00Z", actual_start="2026-11-23T00:00:00Z",
                      actual_end="2026-11-23T00:01:00Z", result=result, reason=None)


def test_sequence_survives_restart_and_torn_tail(tmp_path):
    log = PlayLog(tmp_path)
    assert [_add(log, i).seq for i in range(3)] == [1, 2, 3]
    with open(tmp_path / "plays.jsonl", "ab") as fh:
        fh.write(b'{"seq":4,"play_id":"p')  # power cut mid-write
    again = PlayLog(tmp_path)
    assert again.last_seq == 3
    assert _add(again, 9).seq == 4
    lines = (tmp_path / "plays.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4]
    assert json.loads(lines[-1])["title"] == "Bản tin 9"
    with pytest.raises(ValueError):
        _add(again, 10, result="maybe")


def test_batches_acked_by_seq_nothing_lost_nothing_twice(tmp_path):
    """A receiver keyed by seq (as the station is): replies lost, uploads failing midway, agent restarting."""
    stored: dict[int, dict] = {}
    calls = {"n": 0}

    def send(records):
        calls["n"] += 1
        for r in records:
            stored.setdefault(r["seq"], r)  # dedup by (device, seq)
        if calls["n"] in (2, 5):
            raise ConnectionError("reply lost")  # stored, but the agent never hears the ack
        contiguous = 0
        while contiguous + 1 in stored:
            contiguous += 1
        return contiguous

    log = PlayLog(tmp_path)
    for i in range(23):
        _add(log, i)
    with pytest.raises(ConnectionError):
        log.upload(send, batch=5)  # first batch acked, the second one's reply is lost
    assert log.acked_seq == 5
    log = PlayLog(tmp_path)  # restart: the ack survived
    assert log.acked_seq == 5 and [r["seq"] for r in log.pending(3)] == [6, 7, 8]
    for i in range(23, 30):
        _add(log, i)
    while log.pending():
        try:
            log.upload(send, batch=5)
        except ConnectionError:
            pass
    assert sorted(stored) == list(range(1, 31))
    assert [stored[s]["play_id"] for s in range(1, 31)] == [f"p{i}" for i in range(30)]
    assert log.acked_seq == 30 == PlayLog(tmp_path).acked_seq


def test_ack_never_moves_backwards_or_past_the_end(tmp_path):
    log = PlayLog(tmp_path)
    for i in range(3):
        _add(log, i)
    log.acknowledge(2)
    log.acknowledge(1)
    assert log.acked_seq == 2
    log.acknowledge(99)
    assert log.acked_seq == 3


def test_compaction_keeps_seq_continuity(tmp_path):
    log = PlayLog(tmp_path, compact_after=10, keep_recent=5)
    for i in range(20):
        _add(log, i)
    log.acknowledge(18)
    kept = [json.loads(line)["seq"] for line in (tmp_path / "plays.jsonl").read_text().splitlines()]
    assert kept == [16, 17, 18, 19, 20]
    again = PlayLog(tmp_path, compact_after=10, keep_recent=5)
    assert again.last_seq == 20 and _add(again, 99).seq == 21
    assert [r["seq"] for r in again.pending()] == [19, 20, 21]
    assert "p19" in again.handled_play_ids()


def test_record_to_dict_has_every_field():
    """to_dict is written by hand (speed on the stop path): it must stay in step with the dataclass."""
    from dataclasses import asdict

    from broadcaster.agent.playlog import PlayRecord

    r = PlayRecord(3, "p1", "a" * 64, "Bản tin", "normal", "2026-11-23T00:00:00Z", "2026-11-23T00:00:00Z",
                   "2026-11-23T00:00:05Z", "interrupted", "cancelled")
    assert r.to_dict() == asdict(r)
