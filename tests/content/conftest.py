"""Fixtures for the content tests: a local Google TTS server that gTTS is pointed at."""
from __future__ import annotations

import os

import pytest

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
