"""The espeak engine speaks every Vietnamese voice, at every speed, with a pause between sentences."""
from __future__ import annotations

import numpy as np
import pytest

from content.tts import EngineError, EspeakEngine
from content.tts.base import SENTENCE_PAUSE_S
from tests.content.speech import assert_speech

SENTENCES = ["Xin chào bà con", "Hôm nay xã tổ chức họp dân tại nhà văn hóa thôn"]


@pytest.mark.parametrize("voice", ["vi", "vi-vn-x-central", "vi-vn-x-south"])
@pytest.mark.parametrize("speed", [0.5, 1.0, 2.0])
def test_each_voice_and_speed_is_audible_speech_of_plausible_length(voice, speed):
    pcm = EspeakEngine().synthesize(SENTENCES, voice, speed)
    # ~16 syllables: about 4 s at normal speed; duration scales with 1/speed (the pause does not).
    assert_speech(pcm, 2.5 / speed, 6.0 / speed)


def test_faster_speed_is_shorter():
    engine = EspeakEngine()
    slow, normal, fast = (engine.synthesize(SENTENCES, "vi", s).duration_s for s in (0.5, 1.0, 2.0))
    assert slow > 1.6 * normal and normal > 1.6 * fast


def longest_zero_run(samples: np.ndarray) -> int:
    padded = np.concatenate([[1.0], samples, [1.0]]) != 0
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return int(np.max(edges[1::2] - edges[::2])) if len(edges) else 0


def test_sentences_are_joined_with_one_pause():
    engine = EspeakEngine()
    a = engine.synthesize(SENTENCES[:1], "vi", 1.0)
    b = engine.synthesize(SENTENCES[1:], "vi", 1.0)
    both = engine.synthesize(SENTENCES, "vi", 1.0)
    gap = int(round(SENTENCE_PAUSE_S * a.rate))
    # espeak-ng's output length varies by a few samples between runs, hence the 10 ms tolerance.
    assert abs(len(both.samples) - (len(a.samples) + gap + len(b.samples))) < a.rate // 100
    assert longest_zero_run(both.samples) >= gap > longest_zero_run(a.samples)


def test_pitch_changes_the_voice():
    low = EspeakEngine(pitch=10).synthesize(SENTENCES[:1], "vi", 1.0)
    high = EspeakEngine(pitch=90).synthesize(SENTENCES[:1], "vi", 1.0)
    assert not np.array_equal(low.samples[: min(len(low.samples), len(high.samples))],
                              high.samples[: min(len(low.samples), len(high.samples))])
    with pytest.raises(EngineError):
        EspeakEngine(pitch=120)


def test_unknown_voice_lists_the_voices():
    with pytest.raises(EngineError) as err:
        EspeakEngine().synthesize(SENTENCES, "en", 1.0)
    assert "vi-vn-x-south" in str(err.value) and "known voices" in str(err.value)


def test_speed_out_of_range_is_refused():
    with pytest.raises(EngineError, match="Speed must be between"):
        EspeakEngine().synthesize(SENTENCES, "vi", 5.0)


def test_always_available():
    engine = EspeakEngine()
    assert engine.unavailable_reason() is None
    assert engine.voices() == ["vi", "vi-vn-x-central", "vi-vn-x-south"]
