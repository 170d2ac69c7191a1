"""The hub's ffmpeg command line: how it reads (an upstream URL once, or bytes on stdin), how it levels in real
time, and how it writes low-latency MP3 (to its stdout, and at scale also to Icecast as a source client).

Levelling (measured 2026-12-03; docs/operations.md "Live and relayed streams"): espeak speech 65 s long, one
copy loud (−9 LUFS, clipped: a cadre shouting) and one quiet (−38 LUFS), as WebM/Opus as a browser sends them,
through each chain; pyloudnorm over 30 s windows every 5 s; the delay a chain adds measured by feeding PCM in
real time and timing a tone burst out of ffmpeg (without any filter: 0.04 s):

- `loudnorm=I=-16` (single-pass, dynamic): −16.0…−16.3 loud, −17.2…−17.5 quiet, but it adds 3.04 s (its 3 s
  look-ahead window): alone the whole 3 s mouth-to-speaker budget;
- `dynaudnorm` (200 ms frames, 5-frame window) + `volume` + `alimiter`: within ±2 LU, but adds 1.24 s;
- `dynaudnorm` (100 ms frames, 3-frame window) towards RMS 0.1, then `alimiter` with its own input gain
  capped at 0.84 (−1.5 dBFS), adds 0.38 s. With level_in 2.26 (+7.1 dB): loud −15.7…−15.8, quiet −17.0…−17.1;
  but through Chromium's microphone (bench/live.py) the loudspeakers got −18.2…−18.5. With level_in 2.5
  (+8.0 dB, what we use): loud −14.8…−15.0, quiet −16.4…−16.5, so every case stays inside ±2 LU.
  (A separate `volume` filter between them added a second of delay: the gain rides on the limiter's level_in.)
"""
from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE = 44100   # MP3 at 44.1 kHz: every agent's decoder takes it; mono speech needs no more
BITRATE = "64k"
TARGET_LUFS = -16.0

# dynaudnorm: 100 ms frames, a 3-frame Gaussian, towards RMS 0.1 (≈ −23 LUFS on speech) with gain up to 40x;
# the limiter adds +8.0 dB (level_in) to reach −16 LUFS and holds peaks at 0.84 (≈ −1.5 dBFS) so a shout
# cannot clip.
LEVELLING = ("dynaudnorm=f=100:g=3:p=1:m=40:r=0.1,"
             "alimiter=level_in=2.5:limit=0.84:attack=2:release=50:level=false")

# Start decoding after a few kB, not after ffmpeg's default 5 MB / 5 s probe: the first sound comes out sooner.
LOW_LATENCY_INPUT = ("-fflags", "+nobuffer", "-probesize", "32768", "-analyzeduration", "0")


@dataclass(frozen=True)
class IcecastTarget:
    """Where the hub pushes at scale: `icecast://source:<password>@host:port`, and the URL listeners use."""
    source_url: str        # icecast://source:pw@127.0.0.1:8000
    listen_base: str       # http://127.0.0.1:8000 (what agents reach)

    def push_url(self, name: str) -> str:
        return f"{self.source_url.rstrip('/')}/{name}"

    def listen_url(self, name: str) -> str:
        return f"{self.listen_base.rstrip('/')}/{name}"


def input_args(source: str | None, input_format: str | None) -> list[str]:
    args = ["-hide_banner", "-loglevel", "error", *LOW_LATENCY_INPUT]
    if source is None:
        if input_format:
            args += ["-f", input_format]
        return args + ["-i", "pipe:0"]
    if source.startswith(("http://", "https://")):
        # a dead upstream must end the mount (rw_timeout, µs), not hang it; a dropped TCP link is retried briefly
        args += ["-rw_timeout", "10000000", "-reconnect", "1", "-reconnect_streamed", "1",
                 "-reconnect_delay_max", "2"]
    # -re: read at the audio's own pace. An Icecast stream arrives at that pace anyway; HLS segments and files
    # would otherwise be read in a burst and reach listeners far ahead of "now".
    return ["-nostdin", *args, "-re", "-i", source]


def output_args(level: bool, icecast_push: str | None) -> list[str]:
    chain = f"aresample={SAMPLE_RATE}" + ("," + LEVELLING if level else "")
    enc = ["-c:a", "libmp3lame", "-b:a", BITRATE, "-ac", "1", "-ar", str(SAMPLE_RATE)]
    # -flush_packets 1: every MP3 frame leaves the muxer at once (no 32 kB AVIO buffering = ~4 s at 64 kb/s)
    out_stdout = [*enc, "-flush_packets", "1", "-f", "mp3", "pipe:1"]
    if icecast_push is None:
        return ["-vn", "-af", chain, "-map", "0:a:0", *out_stdout]
    return ["-vn", "-filter_complex", f"[0:a:0]{chain},asplit=2[a][b]",
            "-map", "[a]", *out_stdout,
            "-map", "[b]", *enc, "-content_type", "audio/mpeg", "-f", "mp3", icecast_push]


def command(ffmpeg: str, source: str | None, *, level: bool, input_format: str | None = None,
            icecast_push: str | None = None) -> list[str]:
    return [ffmpeg, *input_args(source, input_format), *output_args(level, icecast_push)]
