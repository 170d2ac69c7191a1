"""Which ffmpeg the agent plays with (the system's, else the `loa-agent[ffmpeg]` extra's static one) and, for
an ffmpeg without ALSA output, decoding to a pipe that a player process (aplay on a box) reads: with the real
static ffmpeg and a real reader process."""
from __future__ import annotations

import os
import sys
import time
import wave
from datetime import datetime, timezone

import imageio_ffmpeg
import pytest

from broadcaster.agent.playback import (
    PipeSink, PlaybackUnavailable, alsa_sink, describe, find_ffmpeg, has_alsa_output,
)
from broadcaster.agent.sinks import FfmpegSink, SinkItem
from tests.broadcaster.helpers import tone_file

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
STATIC = imageio_ffmpeg.get_ffmpeg_exe()


def test_auto_takes_the_system_ffmpeg_first_then_the_extra(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert find_ffmpeg("auto") == STATIC  # no ffmpeg on PATH: the extra's
    (bin_dir / "ffmpeg").symlink_to(STATIC)
    assert find_ffmpeg("auto") == str(bin_dir / "ffmpeg")  # the system's wins
    assert find_ffmpeg("/opt/ffmpeg/bin/ffmpeg") == "/opt/ffmpeg/bin/ffmpeg"  # an explicit --ffmpeg as given


def test_without_any_ffmpeg_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # the extra not installed: import fails
    with pytest.raises(PlaybackUnavailable) as err:
        find_ffmpeg("auto")
    assert "apt-get install ffmpeg" in str(err.value) and "loa-agent[ffmpeg]" in str(err.value)
    assert "Không tìm thấy ffmpeg" in str(err.value)


def test_the_static_ffmpeg_has_no_alsa_so_it_needs_aplay(tmp_path, monkeypatch):
    assert not has_alsa_output(STATIC)
    assert not has_alsa_output(str(tmp_path / "no-such-ffmpeg"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no aplay either
    with pytest.raises(PlaybackUnavailable, match="alsa-utils"):
        alsa_sink(STATIC)


def _wait(sink: PipeSink, timeout: float = 30.0):  # noqa: ANN202
    deadline = time.monotonic() + timeout
    while (status := sink.poll(NOW)).state == "playing" and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_pipe_sink_decodes_into_the_player(tmp_path):
    src = tmp_path / "tone.mp3"
    sha, _ = tone_file(src, 1.5, 440)
    out = tmp_path / "heard.wav"
    sink = PipeSink(STATIC, ["sh", "-c", f'cat > "{out}"'])
    sink.start(SinkItem("p1", "audio", str(src), 1.5, 80, sha256=sha), NOW)
    assert sink.poll(NOW).state == "playing"
    status = _wait(sink)
    assert status.state == "finished", status
    with wave.open(str(out)) as w:  # what the player read is the whole sound, decoded (a pipe's WAV has no length)
        seconds = len(w.readframes(10**9)) / (w.getsampwidth() * w.getnchannels() * w.getframerate())
    assert abs(seconds - 1.5) < 0.1, seconds
    assert sink.poll(NOW).state == "idle"


def test_pipe_sink_failures_and_stop(tmp_path):
    src = tmp_path / "tone.mp3"
    tone_file(src, 1.0)
    dead_player = PipeSink(STATIC, ["sh", "-c", "echo 'no sound card' >&2; exit 3"])
    dead_player.start(SinkItem("p1", "audio", str(src), 1.0, 80), NOW)
    status = _wait(dead_player)
    assert status.state == "failed" and "exit 3" in status.detail and "no sound card" in status.detail
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    sink = PipeSink(STATIC, ["sh", "-c", "cat > /dev/null"])
    sink.start(SinkItem("p2", "audio", str(bad), 1.0, 80), NOW)
    status = _wait(sink)
    assert status.state == "failed" and "ffmpeg exit" in status.detail
    # stop in the middle: both processes end (a player that never reads keeps ffmpeg blocked on the pipe)
    sink.start(SinkItem("p3", "audio", str(src), 1.0, 80), NOW)
    decoder, player = sink._proc, sink._player
    sink.stop(NOW)
    assert decoder.poll() is not None and player.poll() is not None
    assert sink.poll(NOW).state == "idle"
    assert os.path.exists(src)


def test_the_start_up_line_names_the_ffmpeg_and_the_output():
    """`Phát qua / playing through: …` in the journal (broadcaster/agent/cli.py): which binary, which device."""
    assert describe(FfmpegSink("/usr/bin/ffmpeg", ("-f", "alsa", "hw:1,0"))) == "/usr/bin/ffmpeg → ALSA hw:1,0"
    assert describe(PipeSink(STATIC, ["/usr/bin/aplay", "-q", "-D", "default"])) == (
        f"{STATIC} → /usr/bin/aplay -q -D default")
