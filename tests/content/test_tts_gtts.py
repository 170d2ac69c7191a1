"""The gtts engine against a local server speaking Google's batchexecute protocol (real HTTP, real MP3)."""
from __future__ import annotations

import random
import time

import pytest

from content.tts import EngineError, GttsEngine
from content.tts.gtts_engine import GOOGLE_RATE
from tests.content.speech import assert_speech
from tests.ports import free_port

# Three gTTS chunks: the tokenizer splits at ":" and ",".
CHUNKS = ["Ủy ban nhân dân xã thông báo", "từ ngày mười lăm tháng tám",
          "người dân mang căn cước công dân đến nhà văn hóa thôn"]
SENTENCES = [f"{CHUNKS[0]}: {CHUNKS[1]}, {CHUNKS[2]}.", "Xin cảm ơn."]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_engine(tmp_path, **kw) -> GttsEngine:
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("timeout", 5.0)
    return GttsEngine(chunk_cache_dir=tmp_path / "chunks", **kw)


def test_success_decodes_speech_and_requests_each_chunk_once(fake_google, tmp_path):
    engine = make_engine(tmp_path)
    assert engine.unavailable_reason() is None
    pcm = engine.synthesize(SENTENCES, "vi", 1.0)
    assert pcm.rate == GOOGLE_RATE
    assert_speech(pcm, 4.0, 15.0)
    assert [r.text.rstrip(".") for r in fake_google.log] == [*CHUNKS, "Xin cảm ơn"]
    assert all(r.lang == "vi" and not r.slow for r in fake_google.log)
    # The chunk cache: a re-render asks Google nothing.
    again = make_engine(tmp_path).synthesize(SENTENCES, "vi", 1.0)
    assert fake_google.count() == 4
    assert abs(again.duration_s - pcm.duration_s) < 0.01
    cached = list((tmp_path / "chunks").rglob("*"))
    assert len([p for p in cached if p.suffix == ".mp3"]) == 4
    assert not [p for p in cached if p.name.endswith(".tmp")]


def test_timeout_returns_quickly_and_marks_the_engine_down(fake_google, tmp_path):
    fake_google.default = "hang"
    clock = Clock()
    engine = make_engine(tmp_path, timeout=0.5, clock=clock, cooldown_s=60)
    started = time.monotonic()
    with pytest.raises(EngineError, match="0.5"):
        engine.synthesize(SENTENCES, "vi", 1.0)
    assert time.monotonic() - started < 3.0
    assert fake_google.count() == 1  # a hang is not retried: the uplink is down, fall back now
    reason = engine.unavailable_reason()
    assert reason and "failed recently" in reason
    clock.t += 61
    assert engine.unavailable_reason() is None  # the fake still accepts TCP: the pre-check passes


def test_429_then_success_retries_only_the_refused_chunk(fake_google, tmp_path):
    sleeps: list[float] = []
    fake_google.fail_text(CHUNKS[1], 429, times=2)
    engine = make_engine(tmp_path, sleep=sleeps.append, max_attempts=4, rng=random.Random(1))
    pcm = engine.synthesize(SENTENCES, "vi", 1.0)
    assert_speech(pcm, 4.0, 15.0)
    assert fake_google.count(CHUNKS[0]) == 1
    assert fake_google.count(CHUNKS[1]) == 3
    assert fake_google.count(CHUNKS[2]) == 1
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_after_giving_up_a_rerender_fetches_only_missing_chunks(fake_google, tmp_path):
    fake_google.fail_text(CHUNKS[1], 503)
    engine = make_engine(tmp_path, max_attempts=3, cooldown_s=0)
    with pytest.raises(EngineError, match="HTTP 503"):
        engine.synthesize(SENTENCES, "vi", 1.0)
    assert [fake_google.count(c) for c in CHUNKS] == [1, 3, 0]
    fake_google.reset()  # Google recovers
    engine.synthesize(SENTENCES, "vi", 1.0)
    assert [fake_google.count(c) for c in CHUNKS] == [0, 1, 1]


def test_client_errors_are_not_retried(fake_google, tmp_path):
    fake_google.default = 403
    engine = make_engine(tmp_path, max_attempts=4)
    with pytest.raises(EngineError, match="HTTP 403"):
        engine.synthesize(["Xin cảm ơn."], "vi", 1.0)
    assert fake_google.count() == 1


def test_backoff_grows_is_jittered_and_bounded():
    engine = GttsEngine(backoff_base_s=0.5, backoff_cap_s=4.0, rng=random.Random(7))
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = {engine._backoff(attempt, None) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter
    assert engine._backoff(1, 3.0) == 3.0  # Retry-After is honoured…
    assert engine._backoff(1, 100.0) <= 4.0  # …up to the cap


def test_speed(fake_google, tmp_path):
    engine = make_engine(tmp_path)
    normal = engine.synthesize(SENTENCES, "vi", 1.0)
    fast = engine.synthesize(SENTENCES, "vi", 1.5)
    assert fast.duration_s == pytest.approx(normal.duration_s / 1.5, rel=0.03)
    assert_speech(fast, 2.5, 10.0)
    slow = engine.synthesize(SENTENCES, "vi", 0.6)
    assert fake_google.log[-1].slow and slow.duration_s > 1.3 * normal.duration_s


def test_disabled_and_offline_are_reported(fake_google, monkeypatch, tmp_path):
    assert "online=false" in make_engine(tmp_path, enabled=False).unavailable_reason()
    import gtts.tts

    port = free_port()  # nothing listens there: our slice, below the ephemeral range
    monkeypatch.setattr(gtts.tts, "_translate_url", lambda tld="com", path="": f"http://127.0.0.1:{port}/{path}")
    engine = make_engine(tmp_path)
    assert "offline" in engine.unavailable_reason()
    with pytest.raises(EngineError, match="offline"):
        make_engine(tmp_path, precheck=False).synthesize(["Xin cảm ơn."], "vi", 1.0)


def test_damaged_cached_chunk_is_fetched_again(fake_google, tmp_path):
    engine = make_engine(tmp_path)
    engine.synthesize(["Xin cảm ơn."], "vi", 1.0)
    (cached,) = (tmp_path / "chunks").rglob("*.mp3")
    cached.write_bytes(b"garbage")
    engine.synthesize(["Xin cảm ơn."], "vi", 1.0)
    assert fake_google.count() == 2 and cached.read_bytes()[:3] != b"gar"


def test_unknown_voice_and_bad_timeout():
    with pytest.raises(EngineError, match="known voices: vi"):
        GttsEngine().synthesize(["xin chào"], "vi-vn-x-south", 1.0)
    with pytest.raises(ValueError):
        GttsEngine(timeout=None)
