"""Memory of mastering a long recording (issue 13): peak RSS of a process mastering a 30-minute recording,
alone and three at once, with the loudness and true peak achieved. Used by bench/content_pipeline.py.

The fixture is made here with ffmpeg: espeak reading the announcement, repeated to the length with the level
drifting (0, −6, −14 dB ramps, as a speaker moving about), encoded as a small Opus file (6 kb/s, ~1.3 MB for
30 minutes). Each measurement runs in a fresh Python process (`_child` below) so nothing else it did counts:
  - `tree_peak_mb`: that process plus its running ffmpeg children, RSS summed, sampled every 50 ms from outside:
    what the mastering costs the machine, the figure the target applies to;
  - `python_peak_mb`: the Python process's own peak RSS (ru_maxrss, exact; includes the import transient);
  - `ffmpeg_peak_mb`: the largest single ffmpeg process seen by the sampler. (RUSAGE_CHILDREN is no use here:
    a child's maxrss counts the parent's pages it shares between vfork and exec.)
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

from content.audio.ffmpeg import ffmpeg_exe

_CHILD = r"""
import json, resource, sys, threading, time
from pathlib import Path
started = time.perf_counter()
from content.pipeline import MasteringSettings, master_recording
from content.store import AudioStore
from content.audio.ebur128 import ebur128_measure
mode, src, root, copies = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
results = [None] * copies
def one(i):
    store = AudioStore(root / f"store{i}")
    facts = master_recording(src, store, MasteringSettings(max_duration_s=3600))
    results[i] = (facts, store.path_for(facts.sha256))
t0 = time.perf_counter()
if mode == "master":
    threads = [threading.Thread(target=one, args=(i,)) for i in range(copies)]
    for t in threads: t.start()
    for t in threads: t.join()
wall = time.perf_counter() - t0
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"python_peak_mb": round(me, 1), "wall_s": round(wall, 1)}
if mode == "master":
    refs = [ebur128_measure(path) for _, path in results]
    out.update(duration_s=results[0][0].duration_s, integrated_lufs=[r.integrated_lufs for r in refs],
               true_peak_dbtp=[r.true_peak_dbtp for r in refs])
print(json.dumps(out))
"""


def long_recording(work: Path, minutes: float, speech) -> Path:
    """`minutes` of the espeak announcement with the level drifting, as a 6 kb/s Opus file; made in 10 s
    chunks piped to ffmpeg, so the bench itself stays small too."""
    path = work / f"long-{minutes:g}min.ogg"
    rate = speech.rate
    n = int(minutes * 60 * rate)
    points = np.arange(0, n + 20 * rate + 1, 20 * rate)
    levels = np.random.default_rng(1).choice([0.0, -6.0, -14.0], size=len(points))
    enc = subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le",
                            "-ar", str(rate), "-ac", "1", "-i", "pipe:0", "-c:a", "libopus", "-b:a", "6k",
                            "-application", "voip", str(path)], stdin=subprocess.PIPE)
    step = 10 * rate
    for lo in range(0, n, step):
        idx = np.arange(lo, min(n, lo + step))
        x = speech.samples[idx % len(speech.samples)]
        gain = 10 ** (np.interp(idx, points, levels) / 20)
        enc.stdin.write((x * gain * 0.5).astype(np.float32).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError("ffmpeg could not write the long fixture")
    return path


def measure(mode: str, src: Path, work: Path, copies: int = 1) -> dict:
    """Run `_child` in a fresh interpreter, sampling its process tree's RSS; returns the child's figures."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, mode, str(src), str(work), str(copies)],
                            stdout=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    tree_peak = ffmpeg_peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    rss = p.memory_info().rss
                    total += rss
                    if p.pid != root.pid and "ffmpeg" in p.name():
                        ffmpeg_peak = max(ffmpeg_peak, rss)
                except psutil.NoSuchProcess:
                    pass
        except psutil.NoSuchProcess:
            break
        tree_peak = max(tree_peak, total)
        time.sleep(0.05)
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"mastering child failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["tree_peak_mb"] = round(tree_peak / 2**20, 1)
    result["ffmpeg_peak_mb"] = round(ffmpeg_peak / 2**20, 1)
    return result
