"""The TTS caches stay within their byte budget, least recently used first (content/tts/disk_budget.py), with
real renders through the offline voice."""
from __future__ import annotations

import os
import time

import pytest

from content.tts.disk_budget import DiskBudget, prune


def _file(path, size: int, age_s: float) -> None:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    t = time.time() - age_s
    os.utime(path, (t, t))


def test_prune_removes_least_recently_used_until_80_percent(tmp_path):
    for i in range(10):  # 10 × 100 kB, the oldest first
        _file(tmp_path / "speech" / f"{i:02d}" / f"k{i}.npz", 100_000, age_s=1000 - i)
    _file(tmp_path / "speech" / "aa" / "in-progress.npz.tmp", 500_000, age_s=5000)  # a write under way
    freed = prune(tmp_path, max_bytes=600_000)
    left = sorted(p.name for p in tmp_path.rglob("*.npz"))
    assert freed == 600_000 and left == [f"k{i}.npz" for i in range(6, 10)]  # down to 80 % (480 kB): 4 newest stay
    assert (tmp_path / "speech" / "aa" / "in-progress.npz.tmp").exists()
    assert prune(tmp_path, max_bytes=600_000) == 0  # within budget: nothing


def test_budget_prunes_after_a_twentieth_of_it_was_written(tmp_path):
    budget = DiskBudget(tmp_path, max_bytes=1_000_000)
    _file(tmp_path / "gtts-chunks" / "00" / "old.mp3", 1_200_000, age_s=100)
    assert budget.wrote(1) == 1_200_000  # the process's first write checks at once: the tree was over
    _file(tmp_path / "gtts-chunks" / "01" / "a.mp3", 900_000, age_s=50)
    _file(tmp_path / "gtts-chunks" / "02" / "b.mp3", 300_000, age_s=0)
    assert budget.wrote(10_000) == 0  # not yet a twentieth (50 kB) since the last check
    assert budget.wrote(40_000) == 900_000  # now: the older file goes
    assert [p.name for p in tmp_path.rglob("*.mp3")] == ["b.mp3"]
    with pytest.raises(ValueError):
        DiskBudget(tmp_path, 0)


def test_render_cache_hits_are_kept_and_the_cache_stays_bounded(tmp_path):
    from content.tts.registry import EngineRegistry, TtsConfig
    from content.tts.render import synthesize

    cfg = TtsConfig(online=False, cache_max_bytes=2_000_000)
    registry = EngineRegistry.from_config(cfg, tmp_path)
    texts = [f"Thông báo số {i}: bà con thôn Ún Tà họp lúc {i + 7} giờ sáng mai tại nhà văn hóa." for i in range(8)]
    first = synthesize(texts[0], engine="espeak", cache_dir=tmp_path, engines=registry)
    kept = next((tmp_path / "speech").rglob("*.npz"))
    for text in texts[1:]:
        synthesize(text, engine="espeak", cache_dir=tmp_path, engines=registry)
        again = synthesize(texts[0], engine="espeak", cache_dir=tmp_path, engines=registry)  # a hit: touched
        assert again.pcm.samples.shape == first.pcm.samples.shape
    total = sum(p.stat().st_size for p in (tmp_path / "speech").rglob("*.npz"))
    assert total <= 2_000_000 + 2_000_000 // 20 + kept.stat().st_size  # budget + one check's slack + a file
    assert kept.exists()  # the one used all along was never the least recently used
    assert len(list((tmp_path / "speech").rglob("*.npz"))) < len(texts)  # and others were forgotten


def test_the_tts_settings_come_from_the_environment_through_settings(monkeypatch, tmp_path):
    """Every LOA_* TTS variable is a Settings field (one place, one documented table), read by TtsConfig."""
    import pytest
    from pydantic import ValidationError

    from content.tts.registry import TtsConfig
    from loa.settings import Settings

    for name in ("LOA_TTS_CACHE_MAX_MB", "LOA_TTS_ONLINE", "LOA_GTTS_TLD", "LOA_GTTS_TIMEOUT", "LOA_ESPEAK_PITCH",
                 "LOA_PIPER_MODEL", "LOA_PIPER_CONFIG", "LOA_PIPER_VOICES_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert TtsConfig.from_settings(Settings()).cache_max_bytes == 512 * 1024 * 1024
    model = tmp_path / "vi_VN-vais1000-medium.onnx"
    monkeypatch.setenv("LOA_TTS_CACHE_MAX_MB", "64")
    monkeypatch.setenv("LOA_TTS_ONLINE", "off")
    monkeypatch.setenv("LOA_GTTS_TLD", "com")
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "3.5")
    monkeypatch.setenv("LOA_ESPEAK_PITCH", "40")
    monkeypatch.setenv("LOA_PIPER_MODEL", str(model))
    cfg = TtsConfig.from_settings(Settings())
    assert cfg.cache_max_bytes == 64 * 1024 * 1024 and cfg.online is False and cfg.gtts_tld == "com"
    assert cfg.gtts_timeout_s == 3.5 and cfg.espeak_pitch == 40
    assert [v.model_path for v in cfg.piper_voices] == [model]
    monkeypatch.setenv("LOA_ESPEAK_PITCH", "400")  # a typo stops the station with a clear error, not a shrug
    with pytest.raises(ValidationError, match="espeak_pitch"):
        Settings()
