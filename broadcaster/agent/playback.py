"""Which ffmpeg plays, and how its sound reaches the loudspeaker.

A village box has either Debian's ffmpeg (`apt-get install ffmpeg`, with ALSA output) or, installed with the
agent, the static ffmpeg of the `loa-agent[ffmpeg]` extra (imageio-ffmpeg). That static build has no ALSA
output device, so the agent then decodes with it to WAV on a pipe and lets alsa-utils' `aplay` play it.
"""
from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

from broadcaster.agent.errors import AgentError
from broadcaster.agent.sinks import FfmpegSink, SinkItem, SinkStatus


class PlaybackUnavailable(AgentError, RuntimeError):
    """Nothing on this box can play sound; the message says what to install (Vietnamese, then English).
    Permanent until someone installs it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._describe("playback_unavailable", message)


NO_FFMPEG = ("Không tìm thấy ffmpeg: cài `apt-get install ffmpeg`, hoặc `pip install 'loa-agent[ffmpeg]'` / "
             "ffmpeg not found: `apt-get install ffmpeg`, or `pip install 'loa-agent[ffmpeg]'`")
NO_APLAY = ("ffmpeg này không phát thẳng ra ALSA: cài `apt-get install alsa-utils` (lệnh aplay) hoặc "
            "`apt-get install ffmpeg` / this ffmpeg has no ALSA output: `apt-get install alsa-utils` (aplay) or "
            "`apt-get install ffmpeg`")


def find_ffmpeg(choice: str = "auto") -> str:
    """`auto`: the system's ffmpeg on PATH, else the extra's static one. Any other value is used as given."""
    if choice != "auto":
        return choice
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg  # the `loa-agent[ffmpeg]` extra
    except ImportError:
        raise PlaybackUnavailable(NO_FFMPEG) from None
    try:
        exe_path: str = imageio_ffmpeg.get_ffmpeg_exe()
        return exe_path
    except RuntimeError as exc:  # the extra is installed but has no binary for this machine
        raise PlaybackUnavailable(f"{NO_FFMPEG} ({exc})") from None


def has_alsa_output(ffmpeg: str) -> bool:
    """Whether this ffmpeg build can write to an ALSA device (`ffmpeg -devices` lists ` E alsa`)."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-devices"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.split()[1:2] == ["alsa"] and "E" in line.split()[0] for line in out.splitlines()
               if len(line.split()) >= 2)


class PipeSink(FfmpegSink):
    """ffmpeg decodes to WAV on a pipe, `player` (aplay) plays it: for an ffmpeg without ALSA output.
    Playing lasts until the player exits; it fails if either process does."""

    def __init__(self, ffmpeg: str, player: list[str], realtime: bool = False) -> None:
        super().__init__(ffmpeg, ("-f", "wav", "pipe:1"), realtime=realtime)
        self.player = list(player)
        self._player: subprocess.Popen[bytes] | None = None

    def start(self, item: SinkItem, now: datetime) -> None:
        self.stop(now)
        self._item, self._started = item, now
        self._proc = self._spawn(self.command(item), item, subprocess.PIPE)
        self._player = subprocess.Popen(self.player, stdin=self._proc.stdout, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        assert self._proc.stdout is not None  # stdout=PIPE above
        self._proc.stdout.close()  # the player owns the read end: ffmpeg gets EPIPE if the player dies

    def stop(self, now: datetime) -> None:
        super().stop(now)
        player, self._player = self._player, None
        if player is not None:
            if player.poll() is None:
                player.terminate()
                try:
                    player.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    player.kill()
                    player.wait()
            if player.stderr:
                player.stderr.close()

    def poll(self, now: datetime) -> SinkStatus:
        player = self._player
        if player is None:
            return SinkStatus("idle")
        if player.poll() is None:
            return SinkStatus("playing")
        self._player = None
        err = player.stderr.read().decode("utf-8", "replace").strip() if player.stderr else ""
        if player.stderr:
            player.stderr.close()
        decoded = SinkStatus("finished", now)
        if self._proc is not None:  # the player saw end of file, so ffmpeg has finished (or is dying of EPIPE)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                super().stop(now)
                decoded = SinkStatus("failed", now, "ffmpeg did not end after the player")
            else:
                decoded = super().poll(now)
        if player.returncode != 0:
            return SinkStatus("failed", now, f"{self.player[0]} exit {player.returncode}: {err[-300:]}")
        return decoded


def alsa_sink(ffmpeg: str, device: str = "default") -> FfmpegSink:
    """Play on ALSA `device`: straight from ffmpeg when it has ALSA, else through aplay."""
    if has_alsa_output(ffmpeg):
        return FfmpegSink(ffmpeg, ("-f", "alsa", device))
    aplay = shutil.which("aplay")
    if aplay is None:
        raise PlaybackUnavailable(NO_APLAY)
    return PipeSink(ffmpeg, [aplay, "-q", "-D", device])


def describe(sink: FfmpegSink) -> str:
    """`<ffmpeg> → ALSA <device>` or `<ffmpeg> → <player …>`: what the agent says at start-up."""
    if isinstance(sink, PipeSink):
        return f"{sink.ffmpeg} → {' '.join(sink.player)}"
    return f"{sink.ffmpeg} → {' '.join(sink.output[1:]).replace('alsa', 'ALSA', 1)}"
