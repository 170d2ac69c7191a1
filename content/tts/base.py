"""The one interface every text-to-speech engine speaks, and the helpers they share.

An engine receives text that the Vietnamese normalizer has already turned into plain spoken words, split
into sentences. It returns raw speech (`Pcm`); mastering happens later, elsewhere.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from content.types import Pcm
from loa.errors import LoaError, split_bilingual

SENTENCE_PAUSE_S = 0.25  # a short breath between sentences; longer sounds like a dropout on loudspeakers
MIN_SPEED, MAX_SPEED = 0.5, 2.0


class EngineError(LoaError, RuntimeError):
    """A TTS engine could not produce speech. The message is "Vietnamese / English".

    `retryable`: the same request may work later (the network voice is unreachable or busy). Otherwise the
    input itself is the problem (no such voice, nothing speakable) and retrying cannot help. `code` names the
    problem for the author's fix: "empty_text", "no_voice" (unknown voice or engine), otherwise
    "tts_unavailable" (retryable) or "tts_failed"."""

    status = 422

    def __init__(self, message: str, engine: str | None = None, retryable: bool = False,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.engine = engine
        vi, en = split_bilingual(message)
        self._describe(code or ("tts_unavailable" if retryable else "tts_failed"), vi, en, retryable)
        if retryable:
            self.status = 503


@runtime_checkable
class TtsEngine(Protocol):
    name: str

    @property
    def default_voice(self) -> str: ...  # read-only: piper works it out from the voices it finds

    def unavailable_reason(self) -> str | None:
        """None when usable now; otherwise why not ("Vietnamese / English")."""

    def voices(self) -> list[str]:
        """The voice names this engine offers right now."""

    def synthesize(self, sentences: list[str], voice: str, speed: float) -> Pcm:
        """Speak normalized sentences, with a short pause between them. Raises EngineError."""

    def region(self, voice: str) -> str:
        """"north" or "south": which number words the normalizer should use for this voice."""

    def language(self, voice: str) -> str:
        """The voice's language code ("vi", "en_US", …); `auto` only picks Vietnamese voices by itself."""

    def cache_identity(self, voice: str) -> str:
        """What, besides text/voice/speed, changes this engine's output (model file, version, host).

        Part of the render cache key, so replacing a voice file never serves stale audio."""


def check_speed(speed: float) -> float:
    speed = float(speed)
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise EngineError(
            f"Tốc độ đọc phải từ {MIN_SPEED} đến {MAX_SPEED} / Speed must be between {MIN_SPEED} and {MAX_SPEED}"
        )
    return speed


def check_voice(engine: TtsEngine, voice: str) -> None:
    known = engine.voices()
    if voice not in known:
        raise EngineError(
            f"Bộ đọc {engine.name} không có giọng {voice!r}; các giọng có: {', '.join(known) or '(không có)'} / "
            f"Engine {engine.name} has no voice {voice!r}; known voices: {', '.join(known) or '(none)'}",
            engine.name, code="no_voice",
        )


def join_sentences(parts: list[Pcm], pause_s: float = SENTENCE_PAUSE_S) -> Pcm:
    """Concatenate mono sentence audio with silence between; all parts must share one rate."""
    if not parts:
        raise EngineError("Văn bản trống / The text is empty", code="empty_text")
    rate = parts[0].rate
    if any(p.rate != rate for p in parts):
        raise ValueError("sentence audio must share one sample rate")
    gap = np.zeros(int(round(pause_s * rate)), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(np.asarray(part.samples, dtype=np.float32).reshape(-1))
    return Pcm(np.concatenate(pieces), rate)
