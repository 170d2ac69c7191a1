"""Text in, speech out: normalize, pick an engine (or fall back), and cache the rendering on disk.

Cache key: (normalized sentences, engine actually used, voice, speed, the engine's `cache_identity`). The same
text twice costs one file read. Entries are written to a temp file and renamed, so a crash never leaves a
half entry; an unreadable entry is deleted and re-rendered.

How `auto` uses the cache without pinning a fallback forever: it walks gtts → piper → espeak, and for each
engine it first looks for that engine's own cached rendering, then (if the engine is usable now) renders.
So a cached espeak rendering made during an outage is served only while every better engine is both uncached
and unusable *now*; once Google is reachable again, the next request renders with gtts and caches that.
A cached rendering from a better engine is served even if that engine is down now: it is the best audio
we can have.

Region for the normalizer (northern "nghìn/linh" vs southern "ngàn/lẻ" number words): each engine decides
from the voice (`engine.region(voice)`): espeak and piper go by the voice name through
`content.textnorm.region_for_voice`, gtts is always northern (Google's Vietnamese voice is a Hà Nội voice).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from content.tts.atomic import atomic_write
from content.tts.base import EngineError, TtsEngine, check_speed, check_voice
from content.tts.disk_budget import DiskBudget, touch
from content.tts.registry import AUTO, EngineRegistry, TtsConfig
from content.types import Pcm, SkippedEngine, Speech

if TYPE_CHECKING:
    from content.textnorm import Lexicon

_CACHE_VERSION = 1
EMPTY_TEXT = "Văn bản trống / The text is empty"


class RenderCache:
    """Rendered speech on disk, one `.npz` per key (float32 samples, exact)."""

    def __init__(self, root: str | os.PathLike[str], budget: DiskBudget | None = None) -> None:
        self.root = Path(root)
        self.budget = budget  # bounded on disk: least recently used renders go first

    @staticmethod
    def key(sentences: list[str], engine: str, voice: str, speed: float, identity: str) -> str:
        blob = json.dumps([_CACHE_VERSION, sentences, engine, voice, round(speed, 3), identity],
                          ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> Pcm | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                pcm = Pcm(data["samples"].astype(np.float32), int(data["rate"]))
            touch(path)
            return pcm
        except (OSError, ValueError, KeyError, EOFError):
            path.unlink(missing_ok=True)  # damaged outside our control: render again
            return None

    def put(self, key: str, pcm: Pcm) -> None:
        samples = np.asarray(pcm.samples, dtype=np.float32)
        atomic_write(self.path(key), lambda f: np.savez(f, samples=samples, rate=np.int64(pcm.rate)))
        if self.budget is not None:
            self.budget.wrote(samples.nbytes)


@functools.lru_cache(maxsize=8)
def default_registry(cache_dir: str | None = None) -> EngineRegistry:
    """One registry per cache dir for the process, so gTTS's outage memory is shared between renders."""
    from loa.settings import Settings  # the LOA_* environment, read once per registry

    return EngineRegistry.from_config(TtsConfig.from_settings(Settings()), cache_dir)


class _Normalized:
    """Normalize once per region (engines in one `auto` walk may want different number words)."""

    def __init__(self, text: str, lexicon: "Lexicon | None") -> None:
        self.text, self.lexicon = text, lexicon
        self._by_region: dict[str, list[str]] = {}

    def sentences(self, region: str) -> list[str]:
        if region not in self._by_region:
            from content.textnorm import normalize

            result = normalize(self.text, region=region, lexicon=self.lexicon)
            self._by_region[region] = [s for s in result.sentences if s.strip()]
        return self._by_region[region]


def synthesize(
    text: str,
    engine: str = AUTO,
    voice: str | None = None,
    speed: float = 1.0,
    cache_dir: str | os.PathLike[str] | None = None,
    lexicon: "Lexicon | None" = None,
    engines: EngineRegistry | None = None,
) -> Speech:
    """Speak `text` (raw Vietnamese: it is normalized here). Raises EngineError with a "vi / en" message."""
    speed = check_speed(speed)
    registry = engines or default_registry(str(cache_dir) if cache_dir is not None else None)
    budget = getattr(registry, "cache_budget", None)
    cache = RenderCache(Path(cache_dir) / "speech", budget) if cache_dir is not None else None
    norm = _Normalized(text, lexicon)
    if not norm.sentences("north"):
        raise EngineError(EMPTY_TEXT, code="empty_text")
    if engine == AUTO:
        return _auto(registry, voice, speed, norm, cache)
    eng = registry.get(engine)
    chosen = voice or eng.default_voice
    if chosen in eng.voices():  # a cached rendering is served even while the engine is down
        hit = _cached(eng, chosen, speed, norm, cache, ())
        if hit:
            return hit
    reason = eng.unavailable_reason()
    if reason:
        raise EngineError(reason, eng.name, retryable=True)  # down now (offline, cooling off): may come back
    check_voice(eng, chosen)
    return _render(eng, chosen, speed, norm, cache, ())


def _auto(registry: EngineRegistry, voice: str | None, speed: float, norm: _Normalized,
          cache: RenderCache | None) -> Speech:
    chain = registry.auto_chain()
    if voice is not None and not any(voice in e.voices() for e in chain):
        listing = "; ".join(f"{e.name}: {', '.join(e.voices()) or '-'}" for e in chain)
        raise EngineError(f"Không bộ đọc nào có giọng {voice!r} ({listing}) / "
                          f"No engine has voice {voice!r} ({listing})", code="no_voice")
    skipped: list[SkippedEngine] = []
    for eng in chain:
        chosen = voice or eng.default_voice
        if voice is not None and voice not in eng.voices():
            skipped.append(SkippedEngine(eng.name, f"Không có giọng {voice} / Has no voice {voice}"))
            continue
        if chosen and voice is None and not eng.language(chosen).lower().startswith("vi"):
            # An English piper voice reading Vietnamese is worse than espeak; use it only when asked by name.
            skipped.append(SkippedEngine(eng.name, f"Giọng {chosen} không phải tiếng Việt / "
                                                   f"Voice {chosen} is not Vietnamese"))
            continue
        if chosen:
            hit = _cached(eng, chosen, speed, norm, cache, tuple(skipped))
            if hit:
                return hit
        reason = eng.unavailable_reason()
        if reason:
            skipped.append(SkippedEngine(eng.name, reason))
            continue
        try:
            return _render(eng, chosen, speed, norm, cache, tuple(skipped))
        except EngineError as exc:
            skipped.append(SkippedEngine(eng.name, str(exc)))
    reasons = "; ".join(f"{s.engine}: {s.reason}" for s in skipped)
    raise EngineError(f"Không bộ đọc nào đọc được / No engine could speak: {reasons}")


def _key(eng: TtsEngine, voice: str, speed: float, norm: _Normalized) -> str | None:
    try:
        identity = eng.cache_identity(voice)
    except (OSError, KeyError):  # e.g. a piper voice file removed: nothing cached can be trusted
        return None
    return RenderCache.key(norm.sentences(eng.region(voice)), eng.name, voice, speed, identity)


def _cached(eng: TtsEngine, voice: str, speed: float, norm: _Normalized, cache: RenderCache | None,
            skipped: tuple[SkippedEngine, ...]) -> Speech | None:
    if cache is None:
        return None
    key = _key(eng, voice, speed, norm)
    pcm = cache.get(key) if key else None
    if pcm is None:
        return None
    return Speech(pcm, eng.name, voice, speed, skipped, cached=True)


def _render(eng: TtsEngine, voice: str, speed: float, norm: _Normalized, cache: RenderCache | None,
            skipped: tuple[SkippedEngine, ...]) -> Speech:
    sentences = norm.sentences(eng.region(voice))
    pcm = eng.synthesize(sentences, voice, speed)
    if len(pcm.samples) == 0:
        raise EngineError(f"{eng.name} không tạo ra âm thanh / {eng.name} produced no audio", eng.name)
    if cache is not None:
        key = _key(eng, voice, speed, norm)
        if key:
            cache.put(key, pcm)
    return Speech(pcm, eng.name, voice, speed, skipped, cached=False)
