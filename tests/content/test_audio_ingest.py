"""Ingest: every phone/browser format is accepted; every bad upload is refused with its code, writing nothing."""
from __future__ import annotations

import subprocess
import tempfile

import numpy as np
import pytest

from content.audio.ffmpeg import ffmpeg_exe
from content.audio.ingest import IngestError, IngestLimits, ingest
from content.pipeline import MasteringSettings, master_recording
from content.store import AudioStore
from tests.content import fixtures


@pytest.mark.parametrize("fmt", sorted(fixtures.FORMATS))
def test_every_upload_format_is_accepted(fmt):
    pcm = ingest(fixtures.recording("noisy", fmt, 6.0), 24000)
    assert pcm.rate == 24000 and abs(pcm.duration_s - 6.0) < 0.15
    assert pcm.channels == 1  # mono sources stay mono (half the memory of a forced stereo decode)


def test_stereo_upload_keeps_both_channels():
    pcm = ingest(fixtures.recording("stereo", "m4a", 6.0), 24000)
    assert pcm.channels == 2


@pytest.fixture
def empty_dirs(tmp_path, monkeypatch):
    """A store root and a private system temp dir, both checked empty after a refusal."""
    tmp = tmp_path / "systmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    store = AudioStore(tmp_path / "store")
    yield store
    leftovers = [p for p in (tmp_path / "store").rglob("*")] + list(tmp.rglob("*"))
    assert leftovers == [], leftovers


def _refused(path, store, code, **settings):
    with pytest.raises(IngestError) as info:
        master_recording(path, store, MasteringSettings(**settings))
    err = info.value
    assert err.code == code
    assert " / " in str(err) and err.message_vi and err.message_en  # Vietnamese first, then English
    return err


def test_empty_file(tmp_path, empty_dirs):
    path = tmp_path / "empty.m4a"
    path.write_bytes(b"")
    err = _refused(path, empty_dirs, "empty_file")
    assert str(err).startswith("Tệp rỗng")


@pytest.mark.parametrize("content", [
    b"Day la mot van ban, khong phai am thanh.\n" * 20,
    bytes(np.random.default_rng(3).integers(0, 256, 40000, dtype=np.uint8)),
    b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
])
def test_not_audio(tmp_path, empty_dirs, content):
    path = tmp_path / "upload.mp3"  # the name lies: only the content counts
    path.write_bytes(content)
    _refused(path, empty_dirs, "not_audio")


def test_an_image_is_not_audio(tmp_path, empty_dirs):
    path = tmp_path / "photo.png"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "color=red:s=16x16", "-frames:v", "1",
                    str(path)], check=True)
    _refused(path, empty_dirs, "not_audio")


@pytest.mark.parametrize("fmt", sorted(fixtures.FORMATS))
def test_truncated_upload_is_corrupt(fmt, empty_dirs):
    _refused(fixtures.truncated(fmt), empty_dirs, "corrupt_audio")


def test_ogg_cut_on_a_page_boundary_is_corrupt(tmp_path, empty_dirs):
    data = fixtures.recording("noisy", "ogg", 6.0).read_bytes()
    cut = data.rfind(b"OggS", 0, int(len(data) * 0.7))  # ends after a whole page, but not the last one
    path = tmp_path / "cut.ogg"
    path.write_bytes(data[:cut])
    assert ingest(fixtures.recording("noisy", "ogg", 6.0), 24000)  # the whole file is fine
    _refused(path, empty_dirs, "corrupt_audio")


def test_garbage_in_the_middle_is_corrupt(tmp_path, empty_dirs):
    data = bytearray(fixtures.recording("noisy", "flac", 6.0).read_bytes())
    middle = len(data) // 2
    data[middle: middle + 2000] = bytes(2000)
    path = tmp_path / "damaged.flac"
    path.write_bytes(bytes(data))
    _refused(path, empty_dirs, "corrupt_audio")


@pytest.mark.parametrize("db", [None, -75.0])
def test_silence_only(tmp_path, empty_dirs, db):
    path = fixtures.encode(fixtures.silent(5.0, db), "wav", tmp_path / "silence.wav")
    _refused(path, empty_dirs, "silent_recording")


def test_quiet_speech_is_not_silence():
    assert ingest(fixtures.recording("quiet", "m4a"), 24000).duration_s > 19


def test_too_long(empty_dirs):
    err = _refused(fixtures.recording("noisy", "mp3", 6.0), empty_dirs, "too_long", max_duration_s=4.0)
    assert "4 s" in str(err)


def test_too_long_without_a_duration_header(tmp_path, empty_dirs):
    # Browsers' MediaRecorder writes WebM without a duration; ffmpeg writing to a pipe does the same.
    pcm = fixtures.variant("noisy", 6.0)
    proc = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "f32le", "-ar", str(pcm.rate), "-ac", "1", "-i", "pipe:0",
         "-c:a", "libopus", "-f", "webm", "pipe:1"],
        input=pcm.samples.tobytes(), capture_output=True, check=True)
    path = tmp_path / "browser.webm"
    path.write_bytes(proc.stdout)
    assert ingest(path, 24000).duration_s > 5.5  # accepted under the default limit
    _refused(path, empty_dirs, "too_long", max_duration_s=4.0)


def test_too_large(empty_dirs):
    path = fixtures.recording("noisy", "wav", 6.0)
    _refused(path, empty_dirs, "too_large", max_size_bytes=100_000)


def test_ingest_limits_are_configurable():
    path = fixtures.recording("noisy", "wav", 6.0)
    assert ingest(path, 24000, IngestLimits(max_duration_s=7.0, max_size_bytes=10**7)).duration_s > 5.9
    with pytest.raises(IngestError):
        ingest(path, 24000, IngestLimits(max_duration_s=7.0, max_size_bytes=1000))


def test_error_codes_are_stable_strings():
    err = IngestError("corrupt_audio", "detail")
    assert err.code == "corrupt_audio" and err.detail == "detail"
    assert str(err) == "Tệp âm thanh bị hỏng hoặc không đầy đủ / The audio file is corrupt or incomplete"
    assert isinstance(err, ValueError)


def test_playlists_and_scripts_are_not_opened(tmp_path, empty_dirs):
    # A playlist naming a real recording: ffmpeg would happily play it if we let it use the hls demuxer.
    target = fixtures.recording("noisy", "wav", 6.0)
    for name, text in (("list.m3u8", f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n"),
                       ("list.ffconcat", f"ffconcat version 1.0\nfile '{target}'\n")):
        path = tmp_path / name
        path.write_text(text)
        _refused(path, empty_dirs, "not_audio")
