"""Fixtures for the content tests: a local Google TTS server that gTTS is pointed at."""
from __future__ import annotations

import os

import numpy as np
import pytest

from content.types import Pcm

from tests.fakes.google_tts import FakeGoogleTts


@pytest.fixture(scope="session")
def _google_server():
    server = FakeGoogleTts().start()
    yield server
    server.stop()


@pytest.fixture
def fake_google(_google_server, monkeypatch) -> FakeGoogleTts:
    """The fake server, reset, with gTTS redirected to it and no proxy in the way.

    gTTS does `from gtts.utils import _translate_url`, so the name to patch is `gtts.tts._translate_url`;
    it passes `urllib.request.getproxies()` explicitly, so proxy variables must go."""
    import gtts.tts

    _google_server.reset()
    monkeypatch.setattr(gtts.tts, "_translate_url", _google_server.translate_url)
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return _google_server


# ---- checks shared by the TTS tests: is this real, audible speech? ----
def rms(pcm: Pcm) -> float:
    return float(np.sqrt(np.mean(np.square(pcm.samples, dtype=np.float64))))


def assert_speech(pcm: Pcm, min_s: float, max_s: float) -> None:
    """Plausible duration, audible level, and real variation (speech has loud and quiet 50 ms frames)."""
    assert min_s <= pcm.duration_s <= max_s, pcm.duration_s
    assert pcm.samples.dtype == np.float32 and pcm.samples.ndim == 1
    assert rms(pcm) > 0.02, rms(pcm)
    frame = int(pcm.rate * 0.05)
    n = len(pcm.samples) // frame
    energies = np.sqrt(np.mean(pcm.samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    voiced = float(np.mean(energies > 0.02))
    assert 0.3 < voiced < 0.98, voiced  # mostly voiced, with pauses
