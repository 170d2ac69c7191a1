"""Assembly of the broadcast item: chime before and after, repeats with a gap (pydub does the splicing).

pydub holds audio as integer PCM; we hand it 32-bit samples so splicing costs no precision, and convert back
to float Pcm at the end. All pieces share one sample rate and mono layout, which the chain guarantees.
"""
from __future__ import annotations

import warnings

import numpy as np

from content.types import Pcm

with warnings.catch_warnings():
    # pydub looks for an ffmpeg on PATH at import and warns (we never let it run one: decoding is ours);
    # on 3.11/3.12 it also imports the deprecated `audioop`.
    warnings.simplefilter("ignore")
    from pydub import AudioSegment

_I32 = 2**31 - 1

# Two-tone chimes: rising before the announcement ("attention"), falling after it ("end").
CHIME_BEFORE_HZ = (659.25, 880.0)  # E5, A5
CHIME_AFTER_HZ = (880.0, 659.25)


def pcm_to_segment(pcm: Pcm) -> AudioSegment:
    samples = pcm.samples if pcm.samples.ndim == 1 else pcm.samples.reshape(-1)
    data = (np.clip(samples.astype(np.float64), -1.0, 1.0) * _I32).astype("<i4").tobytes()
    return AudioSegment(data=data, sample_width=4, frame_rate=pcm.rate, channels=pcm.channels)


def segment_to_pcm(segment: AudioSegment) -> Pcm:
    segment = segment.set_sample_width(4)
    samples = np.frombuffer(segment.raw_data, dtype="<i4").astype(np.float32) / np.float32(_I32)
    if segment.channels > 1:
        samples = samples.reshape(-1, segment.channels)
    return Pcm(samples, segment.frame_rate)


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


def with_chimes(pcm: Pcm, before: Pcm | None, after: Pcm | None, gap_s: float = 0.4) -> Pcm:
    """`before` + gap + announcement + gap + `after` (either chime may be None)."""
    speech = pcm_to_segment(pcm)
    gap = AudioSegment.silent(duration=int(gap_s * 1000), frame_rate=pcm.rate).set_sample_width(4)
    out = speech
    if before is not None:
        out = pcm_to_segment(before) + gap + out
    if after is not None:
        out = out + gap + pcm_to_segment(after)
    return segment_to_pcm(out)


def repeat(pcm: Pcm, times: int = 1, gap_s: float = 3.0) -> Pcm:
    """The item `times` times with `gap_s` seconds of silence between (loudspeaker listeners often miss the first)."""
    if times < 1:
        raise ValueError("repeat must be at least 1")
    if times == 1:
        return pcm
    one = pcm_to_segment(pcm)
    gap = AudioSegment.silent(duration=int(gap_s * 1000), frame_rate=pcm.rate).set_sample_width(4)
    out = one
    for _ in range(times - 1):
        out = out + gap + one
    return segment_to_pcm(out)
