"""The `espeak` engine: offline, always available, three Vietnamese accents (see espeak.py for the library)."""
from __future__ import annotations

import functools
from importlib import metadata

from content.tts import espeak
from content.tts.base import EngineError, check_speed, check_voice, join_sentences
from content.types import Pcm


@functools.cache
def _library_version() -> str:
    try:
        return metadata.version("espeakng-loader")
    except metadata.PackageNotFoundError:  # running from a source tree without the wheel's metadata
        return "unknown"


class EspeakEngine:
    name = "espeak"
    default_voice = espeak.DEFAULT_VOICE

    def __init__(self, pitch: int = 50) -> None:
        if not 0 <= pitch <= 99:
            raise EngineError("Cao độ giọng phải từ 0 đến 99 / Pitch must be between 0 and 99", self.name)
        self.pitch = pitch

    def unavailable_reason(self) -> str | None:
        try:
            import espeakng_loader  # noqa: F401
        except ImportError:
            return "Chưa cài espeakng-loader / espeakng-loader is not installed"
        return None

    def voices(self) -> list[str]:
        return list(espeak.VOICES)

    def region(self, voice: str) -> str:
        from content.textnorm import region_for_voice

        return region_for_voice(voice)

    def language(self, voice: str) -> str:
        return "vi"

    def cache_identity(self, voice: str) -> str:
        return f"espeakng-loader {_library_version()} pitch {self.pitch}"

    def synthesize(self, sentences: list[str], voice: str, speed: float) -> Pcm:
        check_voice(self, voice)
        speed = check_speed(speed)
        try:
            parts = [espeak.synthesize_pcm(s, voice, speed, self.pitch) for s in sentences if s.strip()]
        except espeak.EspeakError as exc:
            raise EngineError(f"espeak-ng lỗi / espeak-ng failed: {exc}", self.name) from exc
        return join_sentences(parts)
