"""ffmpeg's own EBU R128 meter (`ebur128=peak=true`), parsed from its summary.

Used as the independent reference: by the tests to check what the mastering chain produced, and by the
benchmark to score ffmpeg's `loudnorm` and our chain with the same ruler.
"""
from __future__ import annotations

import os
import re
import subprocess

import numpy as np

from content.audio.ffmpeg import FfmpegError, ffmpeg_exe
from content.audio.meter import Loudness
from content.types import Pcm

_NUM = r"(-?\d+(?:\.\d+)?|-?inf|nan)"


def _parse_summary(text: str) -> Loudness:
    summary = text[text.rfind("Summary:"):]
    if not summary:
        raise FfmpegError("ebur128 printed no summary", text[-2000:])

    def grab(label: str) -> float:
        m = re.search(label + r":\s+" + _NUM, summary)
        if not m:
            raise FfmpegError(f"ebur128 summary lacks {label}", summary)
        value = float(m.group(1))
        return -120.0 if value == float("-inf") else value

    return Loudness(grab("I"), grab("Peak"), grab("LRA"))


def ebur128_measure(source: str | os.PathLike[str] | Pcm, timeout: float = 600) -> Loudness:
    """Integrated loudness, true peak and loudness range of a file or of Pcm, as ffmpeg measures them."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats"]
    stdin = None
    if isinstance(source, Pcm):
        cmd += ["-f", "f32le", "-ar", str(source.rate), "-ac", str(source.channels), "-i", "pipe:0"]
        stdin = np.ascontiguousarray(source.samples, dtype="<f4").tobytes()
    else:
        cmd += ["-i", str(source)]
    cmd += ["-vn", "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    text = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise FfmpegError("ebur128 measurement failed", text[-2000:])
    return _parse_summary(text)


# --- true peak as a by-product of a pass we make anyway ---------------------------------------------------
# ebur128 with metadata=1 tags every 100 ms frame with the running true peak (linear, 3 decimals) and
# ametadata prints it to stderr. Appended to a decode pass, it costs nearly nothing, where a
# numpy 4x oversampling of ten minutes at 48 kHz costs ~1.5 s. (content.audio.stream.encode parses it.)
TRUE_PEAK_TAP = "ebur128=peak=true:metadata=1,ametadata=mode=print:key=lavfi.r128.true_peak:file='pipe\\:2'"
TRUE_PEAK_LINE = re.compile(rb"lavfi\.r128\.true_peak=(\d+(?:\.\d+)?)")
