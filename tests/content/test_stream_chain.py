"""The chunked mastering chain (content.audio.stream): its pieces agree with the whole-array steps they replace,
decoding stops at the length limit, and a mastering's memory does not grow with the recording's length."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from content.audio import meter, steps
from content.audio.ffmpeg import ffmpeg_exe
from content.audio.ingest import IngestError, IngestLimits, decode_checked
from content.audio.loudness import _Search
from content.audio.stream.normalize import CellModel
from content.audio.stream.running import RunningLoudness
from content.audio.stream.spill import Spill
from tests.content import fixtures


@functools.cache
def _long_webm(seconds: float) -> Path:
    """Speech repeated to `seconds`, as WebM from a pipe: no duration in the header, as browsers record.

    Made once per process (the six-minute one serves both the length-limit and the memory test) and at libopus
    complexity 0: the default complexity 10 cost 3.9 of the 4.6 CPU-s of encoding six minutes, for quality
    neither test looks at (one needs the length, the other a long recording to master)."""
    pcm = fixtures.variant("noisy", 20.0)
    x = np.tile(pcm.samples, int(seconds / pcm.duration_s) + 1)[: int(seconds * pcm.rate)]
    path = fixtures.fixture_dir() / f"long-{seconds:g}s.webm"
    path.write_bytes(subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "f32le", "-ar", str(pcm.rate), "-ac", "1", "-i", "pipe:0",
         "-c:a", "libopus", "-b:a", "12k", *fixtures.OPUS_FAST, "-f", "webm", "pipe:1"],
        input=x.tobytes(), capture_output=True, check=True).stdout)
    return path


def test_decoding_stops_at_the_length_limit():
    path = _long_webm(360.0)
    seen = []
    with pytest.raises(IngestError) as info:
        decode_checked(path, 24000, IngestLimits(max_duration_s=20.0), lambda chunk: seen.append(len(chunk)),
                       chunk_frames=24000)
    assert info.value.code == "too_long"
    assert sum(seen) <= 21 * 24000  # stopped within a second of the limit, not after six minutes


@pytest.mark.parametrize("name", ["stereo", "uneven"])
def test_running_loudness_equals_the_whole_array_meter(name):
    pcm = steps.resample(fixtures.variant(name), 24000)
    running = RunningLoudness(24000, pcm.channels)
    for lo in range(0, len(pcm.samples), 12345):  # chunks that cut 100 ms bins anywhere
        running.add(pcm.samples[lo:lo + 12345])
    assert running.integrated() == pytest.approx(meter.integrated_lufs(pcm), abs=1e-6)
    assert running.range() == pytest.approx(meter.loudness_range_lu(pcm), abs=1e-6)


@pytest.mark.parametrize("name", ["clipped", "loud", "noisy"])
def test_the_limiter_model_in_chunks_equals_the_whole_array_model(tmp_path, name, monkeypatch):
    # Small chunks, so the 20 s fixture is cut in many places (the real chunk is 10 s).
    import content.audio.stream.normalize as normalize
    import content.audio.stream.spill as spill

    monkeypatch.setattr(normalize, "CHUNK", 24000)
    monkeypatch.setattr(spill, "CHUNK", 24000)
    pcm = steps.highpass(steps.to_mono(steps.resample(fixtures.variant(name), 24000)))
    audio = Spill(tmp_path / "x.f32")
    audio.append(pcm.samples)
    model = CellModel(audio, tmp_path)
    whole = _Search(pcm, meter.k_weighted_power(pcm))
    for gain_db, limit_db in [(6.0, -3.1), (12.0, -3.1), (3.0, -1.1)]:
        lufs, peak = model.evaluate(gain_db, limit_db)
        cells = whole.cells(gain_db, limit_db)
        assert lufs == pytest.approx(whole.loudness(cells), abs=0.01)
        assert peak == pytest.approx(whole.peak_db(cells), abs=0.01)
    model.close()
    audio.close()


_CHILD = r"""
import json, resource, sys
from pathlib import Path
from content.pipeline import master_recording
from content.store import AudioStore
facts = master_recording(sys.argv[1], AudioStore(Path(sys.argv[2])))
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "lufs": facts.integrated_lufs, "tp": facts.true_peak_dbtp}))
"""


def _master_in_child(path, store) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(store)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_memory_does_not_grow_with_the_recording_length(tmp_path):
    """Six minutes against one: whole-array mastering held several 24 kHz copies (each 35 MB for six minutes,
    ~190 MB more at its peak); in chunks the difference is noise."""
    short = _master_in_child(_long_webm(60.0), tmp_path / "s1")
    long = _master_in_child(_long_webm(360.0), tmp_path / "s2")
    assert abs(long["lufs"] + 16.0) <= 0.5 and long["tp"] <= -1.0
    assert long["peak_mb"] - short["peak_mb"] < 30, (short, long)
