"""The content-addressed store: layout, idempotence, atomic writes, facts sidecar, deletion, temp sweeping."""
from __future__ import annotations

import hashlib
import os

import pytest

from content.store import AudioStore, StoreError
from content.types import AudioFacts


def _facts(sha: str) -> AudioFacts:
    return AudioFacts(sha256=sha, format="ogg-opus", codec="opus", bitrate_kbps=24, sample_rate=48000,
                      duration_s=1.5, integrated_lufs=-16.0, true_peak_dbtp=-1.2, loudness_range_lu=3.0,
                      size_bytes=5, engine="espeak", voice="vi", speed=1.0,
                      skipped_engines=[{"engine": "gtts", "reason": "ngoại tuyến / offline"}])


def test_put_file_is_content_addressed(tmp_path):
    store = AudioStore(tmp_path / "store")
    src = tmp_path / "a.ogg"
    src.write_bytes(b"OggS fake audio bytes")
    sha = store.put_file(src, "ogg")
    assert sha == hashlib.sha256(b"OggS fake audio bytes").hexdigest()
    path = store.path_for(sha)
    assert path == tmp_path / "store" / sha[:2] / sha[2:4] / f"{sha}.ogg"
    assert path.read_bytes() == src.read_bytes() and src.exists()  # copied; the caller keeps its file
    assert store.exists(sha)
    with store.open(sha) as fh:
        assert fh.read() == b"OggS fake audio bytes"


def test_same_bytes_same_path_no_rewrite(tmp_path):
    store = AudioStore(tmp_path)
    src = tmp_path / "a.mp3"
    src.write_bytes(b"ID3 same")
    sha = store.put_file(src, "mp3")
    path = store.path_for(sha)
    os.utime(path, (1_000_000, 1_000_000))
    assert store.put_file(src, "mp3") == sha
    assert store.put_bytes(b"ID3 same", "mp3") == sha
    assert path.stat().st_mtime == 1_000_000  # not rewritten


def test_move_renames_into_place(tmp_path):
    store = AudioStore(tmp_path / "s")
    work = store.temp_dir()
    src = work / "attempt0.ogg"
    src.write_bytes(b"moved")
    sha = store.put_file(src, "ogg", move=True)
    assert not src.exists() and store.path_for(sha, "ogg").read_bytes() == b"moved"
    again = work / "again.ogg"
    again.write_bytes(b"moved")
    assert store.put_file(again, "ogg", move=True) == sha and not again.exists()
    work.rmdir()


def test_crash_during_write_leaves_no_file(tmp_path, monkeypatch):
    store = AudioStore(tmp_path / "s")

    def boom(*_a, **_k):
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.put_bytes(b"half a file", "ogg")
    assert [p for p in (tmp_path / "s").rglob("*") if p.is_file()] == []


def test_facts_sidecar_round_trip(tmp_path):
    store = AudioStore(tmp_path)
    sha = store.put_bytes(b"audio", "ogg")
    assert store.facts(sha) is None
    store.put_facts(_facts(sha))
    assert store.facts(sha) == _facts(sha)
    assert "ngoại tuyến" in store.facts_path(sha).read_text("utf-8")


def test_delete_removes_audio_facts_and_empty_dirs(tmp_path):
    store = AudioStore(tmp_path / "s")
    sha = store.put_bytes(b"to delete", "ogg")
    store.put_facts(_facts(sha))
    assert store.delete(sha) is True
    assert not store.exists(sha) and store.facts(sha) is None
    assert list((tmp_path / "s").iterdir()) == []
    assert store.delete(sha) is False


def test_bad_names_are_refused(tmp_path):
    store = AudioStore(tmp_path)
    for bad in ("../../etc/passwd", "ABC", "g" * 64, ""):
        with pytest.raises(StoreError):
            store.path_for(bad)
    with pytest.raises(StoreError):
        store.path_for("a" * 64, "exe")
    with pytest.raises(StoreError):
        store.open("a" * 64)
    assert store.exists("a" * 64) is False


def test_sweep_temp_removes_only_old_leftovers(tmp_path):
    store = AudioStore(tmp_path)
    old_dir = store.temp_dir()
    (old_dir / "x.ogg").write_bytes(b"x")
    stray = tmp_path / "ab" / "cd"
    stray.mkdir(parents=True)
    (stray / ".tmp-123").write_bytes(b"half")
    fresh = store.temp_dir()
    for path in (old_dir, old_dir / "x.ogg", stray / ".tmp-123"):
        os.utime(path, (1000, 1000))
    assert store.sweep_temp(older_than_s=3600, now=10_000) == 2
    assert not old_dir.exists() and not (stray / ".tmp-123").exists() and fresh.exists()
