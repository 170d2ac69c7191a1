"""The `piper` engine: a neural offline voice, when the commune has put a Piper voice file on the server.

A voice is an `.onnx` model plus its JSON config (`voice.onnx.json`, or `voice.json` next to it). Loading one
takes about a second and ~100 MB, so each file is loaded once per process and shared (a module-level cache
keyed by path, guarded by a lock). Piper's phonemizer (its bundled espeak-ng) has global state, so synthesis
on one voice is serialized too.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from content.tts.base import EngineError, check_speed, check_voice, join_sentences
from content.types import Pcm

_load_lock = threading.Lock()
_loaded: dict[tuple[str, str], Any] = {}  # (model path, config path) -> piper.PiperVoice
_synth_locks: dict[tuple[str, str], threading.Lock] = {}


@dataclass(frozen=True)
class PiperVoiceFile:
    name: str
    model_path: Path
    config_path: Path

    @classmethod
    def from_model(cls, model_path: str | Path, config_path: str | Path | None = None,
                   name: str | None = None) -> "PiperVoiceFile":
        model = Path(model_path)
        config = Path(config_path) if config_path is not None else _find_config(model)
        if config is None:
            config = Path(f"{model}.json")  # reported as missing by unavailable_reason
        return cls(name or model.name.removesuffix(".onnx"), model, config)

    def language(self) -> str:
        try:
            cfg = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unknown"
        lang = cfg.get("language", {}).get("code") or cfg.get("espeak", {}).get("voice") or "unknown"
        return str(lang)


def _find_config(model: Path) -> Path | None:
    for candidate in (Path(f"{model}.json"), model.with_suffix(".json")):
        if candidate.is_file():
            return candidate
    return None


def discover_voices(voices_dir: str | Path) -> list[PiperVoiceFile]:
    """Every `*.onnx` under `voices_dir` that has a config beside it, sorted by name."""
    root = Path(voices_dir)
    if not root.is_dir():
        return []
    found = []
    for model in sorted(root.rglob("*.onnx")):
        config = _find_config(model)
        if config is not None:
            found.append(PiperVoiceFile.from_model(model, config))
    return found


def piper_import_error() -> str | None:
    try:
        import piper  # noqa: F401
    except ImportError as exc:
        return f"Chưa cài piper-tts / piper-tts is not installed ({exc})"
    return None


def load_piper_voice(model_path: str | Path, config_path: str | Path) -> Any:
    """The loaded `piper.PiperVoice` for these files: loaded on first use, then the same object every time."""
    key = (str(Path(model_path).resolve()), str(Path(config_path).resolve()))
    with _load_lock:
        voice = _loaded.get(key)
        if voice is None:
            from piper import PiperVoice

            try:
                voice = PiperVoice.load(key[0], config_path=key[1])
            except Exception as exc:  # onnxruntime/json raise many types; all mean "bad voice file"
                raise EngineError(f"Không nạp được giọng piper {Path(model_path).name} / "
                                  f"Cannot load piper voice {Path(model_path).name}: {exc}", "piper") from exc
            _loaded[key] = voice
            _synth_locks[key] = threading.Lock()
        return voice


class PiperEngine:
    name = "piper"

    def __init__(self, voices: Iterable[PiperVoiceFile] = (), voices_dir: str | Path | None = None) -> None:
        self._configured: Sequence[PiperVoiceFile] = tuple(voices)
        self.voices_dir = Path(voices_dir) if voices_dir is not None else None

    @classmethod
    def from_files(cls, model_path: str | Path, config_path: str | Path | None = None,
                   name: str | None = None) -> "PiperEngine":
        return cls([PiperVoiceFile.from_model(model_path, config_path, name)])

    def _all(self) -> dict[str, PiperVoiceFile]:
        found = {v.name: v for v in self._configured}
        if self.voices_dir is not None:  # re-scanned each time: a dropped-in voice file works without restart
            for v in discover_voices(self.voices_dir):
                found.setdefault(v.name, v)
        return found

    def _usable(self) -> dict[str, PiperVoiceFile]:
        return {n: v for n, v in self._all().items() if v.model_path.is_file() and v.config_path.is_file()}

    def unavailable_reason(self) -> str | None:
        missing = piper_import_error()
        if missing:
            return missing
        if self._usable():
            return None
        broken = [v for v in self._all().values()]
        if broken:
            names = ", ".join(str(v.model_path) for v in broken)
            return f"Thiếu tệp giọng piper (.onnx/.json): {names} / Piper voice file missing: {names}"
        return "Chưa cấu hình tệp giọng piper (.onnx + .json) / No piper voice file configured"

    def voices(self) -> list[str]:
        return list(self._usable())

    @property
    def default_voice(self) -> str:
        usable = self._usable()
        vietnamese = [n for n, v in usable.items() if v.language().lower().startswith("vi")]
        return (vietnamese or list(usable) or [""])[0]

    def region(self, voice: str) -> str:
        from content.textnorm import region_for_voice

        return region_for_voice(voice)

    def language(self, voice: str) -> str:
        v = self._all().get(voice)
        return v.language() if v else "unknown"

    def cache_identity(self, voice: str) -> str:
        v = self._all()[voice]
        st = v.model_path.stat()
        return f"piper {v.model_path.resolve()} {st.st_size} {st.st_mtime_ns}"

    def synthesize(self, sentences: list[str], voice: str, speed: float) -> Pcm:
        reason = self.unavailable_reason()
        if reason:
            raise EngineError(reason, self.name)
        check_voice(self, voice)
        speed = check_speed(speed)
        from piper import SynthesisConfig

        vf = self._usable()[voice]
        pv = load_piper_voice(vf.model_path, vf.config_path)
        key = (str(vf.model_path.resolve()), str(vf.config_path.resolve()))
        # length_scale > 1 is slower: scale the voice's own default by 1/speed.
        config = SynthesisConfig(length_scale=pv.config.length_scale / speed, volume=0.9)
        parts: list[Pcm] = []
        try:
            with _synth_locks[key]:
                for sentence in sentences:
                    audio = [c.audio_float_array for c in pv.synthesize(sentence, config)]
                    if audio:
                        parts.append(Pcm(np.concatenate(audio).astype(np.float32), pv.config.sample_rate))
        except Exception as exc:  # onnxruntime errors have no common base class
            raise EngineError(f"piper lỗi khi đọc / piper failed: {exc}", self.name) from exc
        return join_sentences(parts)
