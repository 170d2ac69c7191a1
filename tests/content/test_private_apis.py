"""Two private names of libraries are relied on, deliberately, and pinned in pyproject.toml:

- `gtts.tts._translate_url`: the Google host gTTS talks to. The engine's quick reachability check asks it the
  host for the configured TLD, and the tests point it at a local server speaking Google's protocol
  (tests/fakes/google_tts.py), the only fake the brief allows.
- `pyloudnorm.Meter(rate)._filters`: its K-weighting biquads, run by scipy in one pass (content/audio/meter.py);
  the meter tests compare the figures with pyloudnorm's and ffmpeg's own.

These tests fail the day a release changes either shape, before anything is measured wrong."""
from __future__ import annotations

import inspect
from importlib.metadata import version

import numpy as np


def _release(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version(name).split(".")[:3] if p.isdigit())


def test_gtts_translate_url_is_the_host_it_speaks_to():
    import gtts.tts

    assert (2, 5, 4) <= _release("gTTS") < (2, 6)
    assert list(inspect.signature(gtts.tts._translate_url).parameters) == ["tld", "path"]
    assert gtts.tts._translate_url(tld="com.vn", path="_/TranslateWebserverUi/data/batchexecute") == \
        "https://translate.google.com.vn/_/TranslateWebserverUi/data/batchexecute"


def test_pyloudnorm_filters_are_two_biquads_with_coefficients():
    import pyloudnorm

    from content.audio.meter import _k_sos

    assert (0, 2, 0) <= _release("pyloudnorm") < (0, 3)
    stages = list(pyloudnorm.Meter(48000)._filters.values())
    assert len(stages) == 2
    for stage in stages:
        assert np.shape(stage.b) == (3,) and np.shape(stage.a) == (3,)
    sos = _k_sos(48000)
    assert sos.shape == (2, 6) and np.allclose(sos[:, 3], 1.0)
