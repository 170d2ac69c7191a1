"""The tests' radio station itself (tests/icecast.py): Icecast serves each format a feeder pushes, a killed
feeder takes its mount away, and the HLS helper serves a live playlist ffmpeg can decode."""
from __future__ import annotations

import subprocess

import pytest

from tests.broadcaster.helpers import tone_file
from tests.icecast import FORMATS, Feeder, HlsStream, Icecast, _ffmpeg


def decodes(url: str, seconds: float = 1.5) -> float:
    """Seconds of audio ffmpeg decoded from `url` (it stops after `seconds`)."""
    out = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", "-t", str(seconds), "-i", url, "-ac", "1",
                          "-ar", "8000", "-f", "s16le", "pipe:1"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return len(out.stdout) / 2 / 8000


@pytest.fixture(scope="module")
def radio_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("radio") / "tone.mp3"
    tone_file(path, 3.0, 550)
    return path


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_icecast_serves_each_format(radio_file, fmt):
    with Icecast() as ice:
        with Feeder(ice, f"/radio.{fmt}", radio_file, fmt):
            assert ice.mounts()[f"/radio.{fmt}"]["server_type"] == FORMATS[fmt][1]
            assert decodes(ice.url(f"/radio.{fmt}")) >= 1.4
        ice.wait_mount(f"/radio.{fmt}", present=False)


def test_killed_feeder_takes_the_mount_away(radio_file):
    with Icecast() as ice, Feeder(ice, "/dies.mp3", radio_file) as feeder:
        feeder.kill()
        ice.wait_mount("/dies.mp3", present=False, timeout=10)
        probe = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", "-i", ice.url("/dies.mp3"), "-f", "null", "-"],
                               capture_output=True, timeout=30)
        assert probe.returncode != 0 and b"404" in probe.stderr


def test_hls_stream_is_live_and_decodes(radio_file):
    with HlsStream(radio_file) as hls:
        playlist = (hls.root / "index.m3u8").read_text()
        assert "#EXT-X-ENDLIST" not in playlist  # live: no end, as a radio's playlist
        assert decodes(hls.url) >= 1.4
