from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from broadcaster.agent.client import StationClient, StationError
from broadcaster.agent.store import AudioStore, ContentMismatch, DiskFull, file_sha256
from tests.broadcaster.fileserver import FileServer
from tests.broadcaster.helpers import tone_file


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    sha, size = tone_file(root / "tone.mp3", seconds=20)
    shutil.move(root / "tone.mp3", root / sha)
    server = FileServer(root)
    client = StationClient(server.url, retries=0)
    yield server, client, sha, size
    client.close()
    server.close()


def test_download_checks_and_installs(served, tmp_path):
    server, client, sha, size = served
    store = AudioStore(tmp_path / "cache")
    path = store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    assert path.name == sha and file_sha256(path) == sha and store.locate(sha) == path
    assert not list((tmp_path / "cache").glob("*.part"))
    # already present: no new request
    n = len(server.requests)
    store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    assert len(server.requests) == n


def test_server_dying_mid_download_resumes_with_range(served, tmp_path):
    server, client, sha, size = served
    store = AudioStore(tmp_path / "cache")
    server.cut_after = size // 3
    with pytest.raises(StationError):  # the link is gone: the station's client says so, nothing else
        store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    part = store.part_path(sha)
    assert part.exists() and part.stat().st_size == size // 3
    assert store.locate(sha) is None  # never a partial final file
    server.cut_after = None
    store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    assert server.requests[-1][1] == f"bytes={size // 3}-"
    assert file_sha256(store.path(sha)) == sha


def test_server_ignoring_range_restarts_from_zero(served, tmp_path):
    server, client, sha, size = served
    store = AudioStore(tmp_path / "cache")
    store.part_path(sha).write_bytes(b"\x00" * 100)  # garbage from before
    server.ignore_range = True
    store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    assert file_sha256(store.path(sha)) == sha


def test_tampered_audio_refused_and_deleted(served, tmp_path):
    server, client, sha, size = served
    store = AudioStore(tmp_path / "cache")
    data = bytearray((server.root / sha).read_bytes())
    data[size // 2] ^= 0xFF
    (server.root / sha).write_bytes(bytes(data))
    with pytest.raises(ContentMismatch) as info:
        store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    assert info.value.code == "audio_hash_mismatch"
    assert not store.part_path(sha).exists() and store.locate(sha) is None
    # more bytes than the manifest says
    (server.root / sha).write_bytes(bytes(data) + b"extra")
    with pytest.raises(ContentMismatch) as info:
        store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"))
    assert info.value.code == "audio_size_mismatch"
    # an installed file corrupted on disk is caught by check()
    (server.root / sha).write_bytes((tmp_path / "x").write_bytes(b"") or b"")
    good = tmp_path / "cache" / sha
    good.write_bytes(bytes(data))
    assert store.check(sha) is False and not good.exists()


def test_eviction_keeps_needed_files_and_drops_lru(tmp_path):
    store = AudioStore(tmp_path / "cache", limit_bytes=3000, reserve_bytes=0)
    names = {}
    for i in range(3):
        data = bytes([i]) * 1000
        import hashlib
        sha = hashlib.sha256(data).hexdigest()
        store.path(sha).write_bytes(data)
        os.utime(store.path(sha), (1000 + i, 1000 + i))
        names[i] = sha
    store.touch(names[0])  # recently used: evicted last
    removed = store.evict(needed={names[1]}, incoming=1000)
    assert removed == [names[2]]
    assert store.locate(names[0]) and store.locate(names[1])
    # nothing unneeded left to drop: needed files stay even over the limit
    removed = store.evict(needed={names[0], names[1]}, incoming=5000)
    assert removed == [] and store.locate(names[0]) and store.locate(names[1])


def test_cache_limit_refuses_without_touching_needed(served, tmp_path):
    server, client, sha, size = served
    store = AudioStore(tmp_path / "cache", limit_bytes=size // 2, reserve_bytes=0)
    keep = store.path("f" * 64)
    keep.write_bytes(b"k" * 10)
    with pytest.raises(DiskFull):
        store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"), needed={"f" * 64})
    assert keep.read_bytes() == b"k" * 10


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount tmpfs here: " + done.stderr.decode())
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_clear_error_existing_files_intact(served, tiny_disk):
    server, client, sha, size = served
    store = AudioStore(tiny_disk / "cache", limit_bytes=10**9, reserve_bytes=0)
    existing = store.path("e" * 64)
    existing.write_bytes(b"E" * 200_000)
    assert store.disk_free() < size, "the tone must not fit beside the needed file"
    with pytest.raises(DiskFull) as info:
        store.fetch(sha, size, client.audio_fetcher(f"/a/{sha}"), needed={"e" * 64})
    assert info.value.code == "disk_full" and "Đĩa đầy" in info.value.message
    assert existing.read_bytes() == b"E" * 200_000
    assert not store.part_path(sha).exists()


def test_disk_filling_up_during_download(served, tiny_disk):
    """The pre-check passes, then another process eats the disk: the kernel's ENOSPC is reported cleanly."""
    server, client, sha, size = served
    store = AudioStore(tiny_disk / "cache", limit_bytes=10**9, reserve_bytes=0)
    existing = store.path("e" * 64)
    existing.write_bytes(b"E" * 1000)
    real = client.audio_fetcher(f"/a/{sha}")

    def hog_then_fetch(offset):
        start, chunks = real(offset)
        hog = tiny_disk / "hog"
        with open(hog, "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
            except OSError:
                pass
        return start, chunks

    if size > store.disk_free():
        pytest.skip("tone larger than the tiny disk")
    with pytest.raises(DiskFull):
        store.fetch(sha, size, hog_then_fetch, needed={"e" * 64})
    assert existing.read_bytes() == b"E" * 1000
    assert not store.part_path(sha).exists() and store.locate(sha) is None
