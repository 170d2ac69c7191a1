"""Which engines this station has, built from its settings, and the order `auto` tries them in."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from content.tts.base import EngineError, TtsEngine
from content.tts.disk_budget import DiskBudget
from content.tts.espeak_engine import EspeakEngine
from content.tts.gtts_engine import GttsEngine
from content.tts.piper_engine import PiperEngine, PiperVoiceFile

if TYPE_CHECKING:
    from loa.settings import Settings

AUTO = "auto"
AUTO_ORDER = ("gtts", "piper", "espeak")  # best first; espeak is the offline floor that always works


@dataclass(frozen=True)
class TtsConfig:
    """What the engines are built with. The station's values come from its Settings (LOA_TTS_ONLINE,
    LOA_GTTS_TLD, LOA_GTTS_TIMEOUT, LOA_PIPER_VOICES_DIR, LOA_PIPER_MODEL, LOA_PIPER_CONFIG, LOA_ESPEAK_PITCH,
    LOA_TTS_CACHE_MAX_MB: one place for every LOA_* variable, docs/api.md); tests build it directly."""

    online: bool = True  # False: never contact Google (stations without an uplink, or by policy)
    gtts_tld: str = "com.vn"
    gtts_timeout_s: float = 10.0
    gtts_max_attempts: int = 4
    gtts_cooldown_s: float = 60.0
    piper_voices: tuple[PiperVoiceFile, ...] = ()
    piper_voices_dir: Path | None = None
    espeak_pitch: int = 50
    cache_max_bytes: int = 512 * 1024 * 1024  # rendered speech + gTTS chunks (content/tts/disk_budget.py)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "TtsConfig":
        voices: tuple[PiperVoiceFile, ...] = ()
        if settings.piper_model:
            config = str(settings.piper_config) if settings.piper_config else None
            voices = (PiperVoiceFile.from_model(str(settings.piper_model), config),)
        return cls(online=settings.tts_online, gtts_tld=settings.gtts_tld, gtts_timeout_s=settings.gtts_timeout,
                   piper_voices=voices, piper_voices_dir=settings.piper_voices_dir,
                   espeak_pitch=settings.espeak_pitch, cache_max_bytes=int(settings.tts_cache_max_mb * 1024 * 1024))


class EngineRegistry:
    def __init__(self, engines: Iterable[TtsEngine], cache_budget: DiskBudget | None = None) -> None:
        self.cache_budget = cache_budget  # shared by the render cache and gTTS's chunk cache
        self._engines: dict[str, TtsEngine] = {}
        for engine in engines:
            if engine.name == AUTO:
                raise ValueError("'auto' is reserved for the fallback chain")
            self._engines[engine.name] = engine

    @classmethod
    def from_config(cls, config: TtsConfig | None = None, cache_dir: str | os.PathLike[str] | None = None
                    ) -> "EngineRegistry":
        """The three standard engines. `cache_dir` holds gTTS's chunk cache (under `gtts-chunks/`)."""
        cfg = config or TtsConfig()
        budget = DiskBudget(cache_dir, cfg.cache_max_bytes) if cache_dir is not None else None
        gtts = GttsEngine(
            enabled=cfg.online, tld=cfg.gtts_tld, timeout=cfg.gtts_timeout_s,
            max_attempts=cfg.gtts_max_attempts, cooldown_s=cfg.gtts_cooldown_s,
            chunk_cache_dir=Path(cache_dir) / "gtts-chunks" if cache_dir is not None else None,
            cache_budget=budget,
        )
        piper = PiperEngine(cfg.piper_voices, cfg.piper_voices_dir)
        return cls([gtts, piper, EspeakEngine(pitch=cfg.espeak_pitch)], budget)

    def names(self) -> list[str]:
        """Concrete engine names, in `auto`'s order first (then any extra engines)."""
        ordered = [n for n in AUTO_ORDER if n in self._engines]
        return ordered + [n for n in self._engines if n not in ordered]

    def auto_chain(self) -> list[TtsEngine]:
        return [self._engines[n] for n in AUTO_ORDER if n in self._engines]

    def get(self, name: str) -> TtsEngine:
        try:
            return self._engines[name]
        except KeyError:
            known = ", ".join([AUTO, *self.names()])
            raise EngineError(f"Không có bộ đọc {name!r}; các bộ đọc có: {known} / "
                              f"Unknown engine {name!r}; known engines: {known}", code="no_voice") from None
