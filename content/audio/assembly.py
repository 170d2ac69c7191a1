"""The station's chime: a rising two-tone bell before an announcement ("attention"), a falling one after it
("end"). The mastering chain splices it around the speech as a stream (content/audio/stream/assemble.py).

pydub used to do the splicing here; measured, it could not serve (docs/content.md, "Why not pydub"), so it went.
"""
from __future__ import annotations

import numpy as np

from content.types import Pcm

# Two-tone chimes: rising before the announcement ("attention"), falling after it ("end").
CHIME_BEFORE_HZ = (659.25, 880.0)  # E5, A5
CHIME_AFTER_HZ = (880.0, 659.25)


def make_chime(rate: int, tones_hz: tuple[float, ...] = CHIME_BEFORE_HZ, tone_s: float = 0.55) -> Pcm:
    """A soft bell-like tone pair: fundamental plus two quieter partials, fast attack, exponential decay.

    Returned at an arbitrary level; the chain normalizes it to the announcement's loudness.
    """
    n = int(tone_s * rate)
    t = np.arange(n) / rate
    envelope = np.minimum(1.0, t / 0.008) * np.exp(-t * 4.5)
    parts = []
    for f in tones_hz:
        tone = np.sin(2 * np.pi * f * t) + 0.35 * np.sin(2 * np.pi * 2 * f * t) + 0.12 * np.sin(2 * np.pi * 3 * f * t)
        parts.append(tone * envelope)
    x = np.concatenate(parts + [np.zeros(int(0.25 * rate))])
    return Pcm((0.5 * x / np.max(np.abs(x))).astype(np.float32), rate)
