"""The broadcast item's timeline (chime before and after, repeats with gaps) as a stream of chunks, so the
speech never has to be copied whole (it replaced pydub's splicing, which held and copied the whole item)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from content.audio.stream.spill import CHUNK, Spill
from content.types import Pcm


def _silence(seconds: float, rate: int) -> np.ndarray:
    # whole milliseconds, as the pydub splicing this replaced counted them: int(ms * rate / 1000) frames
    return np.zeros(int(int(seconds * 1000) * rate / 1000.0), np.float32)


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False)  # full scale, as integer PCM would clip


def timeline(speech: Spill, rate: int, before: Pcm | None, after: Pcm | None, gap_s: float = 0.4,
             repeat: int = 1, repeat_gap_s: float = 3.0) -> Iterator[np.ndarray]:
    for i in range(repeat):
        if i:
            yield _silence(repeat_gap_s, rate)
        if before is not None:
            yield _clip(before.samples)
            yield _silence(gap_s, rate)
        for _, chunk in speech.chunks(size=CHUNK):
            yield _clip(chunk)
        if after is not None:
            yield _silence(gap_s, rate)
            yield _clip(after.samples)
