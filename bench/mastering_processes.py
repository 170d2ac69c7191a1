"""CPU and ffmpeg memory of mastering one typical upload: this chain against the previous one, in the same run.

What changed (December 2026): for Opus, the verification decode runs inside the encoder's ffmpeg process (a
loopback decoder) instead of a second ffmpeg that demuxed the Ogg pages a Python thread pumped into it; and the
limiter model reads the K-weighted power that the last pass before it computed anyway, instead of K-weighting
the same samples a second time. The baseline is the previous chain rebuilt here (its two-process Opus encode and
its own K-weighting), everything else being the same code; both must store byte-identical files.

Inputs (made here, deterministic): a 30-second speech WAV (espeak at 22,050 Hz, −20 LUFS, light noise) and a
30-second phone recording (m4a/AAC, the speaker's second half 15 dB quieter, so leveling runs). CPU is this
process plus its ffmpeg children (RUSAGE_CHILDREN), median of `--reps` runs, the two chains alternating; on the
shared 2-core machine the load moves it by ±5 %, more than the change, so the CPU lines are reported, not
claimed. The memory line is: the largest sum of the RSS of this process's ffmpeg children, sampled every 20 ms
during a mastering (the Opus encode with its verifying decode is where it peaks), median over the runs.

Usage: .venv/bin/python bench/mastering_processes.py [--reps 5]
Prints one JSON line per figure (format: docs/content.md, "Measured figures").
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil

from content.audio.ffmpeg import ffmpeg_exe
from content.audio.meter import integrated_lufs
from content.audio.stream import encode, passes
from content.audio.stream.pipes import FfmpegStream, reader
from content.audio.stream.running import RunningLoudness
from content.audio.stream.spill import Spill
from content.pipeline import master_recording
from content.store import AudioStore
from content.tts.espeak import synthesize_pcm
from content.types import Pcm

TEXT = ("Thông báo của Ủy ban nhân dân xã về việc tiêm phòng cho trẻ em dưới năm tuổi. Đề nghị các gia đình có con "
        "nhỏ đưa trẻ đến trạm y tế xã vào sáng thứ bảy tuần này. Khi đi nhớ mang theo sổ tiêm chủng và căn cước "
        "công dân của cha mẹ. Mọi thắc mắc xin liên hệ cán bộ y tế thôn.")


def _cpu_s() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _speech(seconds: float) -> Pcm:
    pcm = synthesize_pcm(TEXT)
    x = np.tile(pcm.samples, int(seconds / pcm.duration_s) + 1)[: int(seconds * pcm.rate)]
    x = x * np.float32(10 ** ((-20.0 - integrated_lufs(Pcm(x, pcm.rate))) / 20))
    return Pcm(x.astype(np.float32), pcm.rate)


def _write(pcm: Pcm, path: Path, *codec: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(pcm.rate),
                    "-ac", "1", "-i", "pipe:0", *codec, str(path)], input=pcm.samples.astype("<f4").tobytes(),
                   check=True)
    return path


def make_inputs(work: Path) -> dict[str, Path]:
    pcm = _speech(30.0)
    noisy = pcm.samples + np.random.default_rng(1).standard_normal(len(pcm.samples)).astype(np.float32) * 0.008
    uneven = pcm.samples.copy()
    uneven[len(uneven) // 2:] *= np.float32(10 ** (-15 / 20))
    return {"speech_wav_30s": _write(Pcm(noisy, pcm.rate), work / "speech.wav", "-c:a", "pcm_s16le"),
            "phone_m4a_30s": _write(Pcm(uneven, pcm.rate), work / "phone.m4a", "-c:a", "aac", "-b:a", "64k",
                                    "-f", "ipod")}


# --- the previous chain's two differences, as they were --------------------------------------------------------

def _two_process_ogg(candidate: Iterable[np.ndarray], frames: int, rate: int, out_path: Path, fmt: str,
                     bitrate_kbps: int, measure_rate: int, decoded: Spill, peaks: encode._PeakParser,
                     timeout: float) -> tuple[RunningLoudness, float]:
    """The encoder writes Ogg pages to a pipe; a Python thread writes them to the file and into a second ffmpeg
    that decodes them (with the true-peak tap)."""
    enc = encode._Encoder(encode._encoder_cmd(rate, fmt, bitrate_kbps, 48000, "pipe:1"), candidate,
                          subprocess.PIPE)
    encoded = reader(enc.proc.stdout)

    def pages() -> Iterator[bytes]:
        with out_path.open("wb") as fh:
            for block in iter(lambda: encoded.read1(1 << 16), b""):
                fh.write(block)
                yield block

    try:
        with FfmpegStream(encode._decoder_args("pipe:0", measure_rate), 1, feed=pages(), stderr_sink=peaks,
                          timeout=timeout) as dec:
            meter = encode._measure(dec, measure_rate, decoded)
            enc.finish(timeout)
            dec.finish()
    except BaseException:
        enc.kill()
        raise
    return meter, peaks.dbtp()


def _stage_without_cells(work: Path, name: str) -> passes.Stage:
    return passes.Stage(Spill(work / f"{name}.f32"), RunningLoudness(passes.RATE))


@contextmanager
def previous_chain() -> Iterator[None]:
    saved = encode._encode_ogg, passes._stage
    encode._encode_ogg, passes._stage = _two_process_ogg, _stage_without_cells  # type: ignore[assignment]
    try:
        yield
    finally:
        encode._encode_ogg, passes._stage = saved


BASELINE = "previous chain (a second ffmpeg decoding the Ogg pages, the limiter model K-weighting again)"

# ----------------------------------------------------------------------------------------------------------------

class _ChildrenRss:
    """Peak of the summed RSS of this process's children (the ffmpeg processes), sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                rss = sum(child.memory_info().rss for child in me.children())
            except psutil.Error:
                rss = 0
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            time.sleep(0.02)

    def __enter__(self) -> "_ChildrenRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run(path: Path) -> tuple[float, float, str]:
    store_dir = Path(tempfile.mkdtemp(prefix="loa-bench-store-"))
    try:
        with _ChildrenRss() as rss:
            start = _cpu_s()
            facts = master_recording(path, AudioStore(store_dir))
            cpu = _cpu_s() - start
        return cpu, rss.peak_mb, facts.sha256
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)


def measure(path: Path, reps: int) -> dict[str, float | bool]:
    """Medians of CPU seconds and ffmpeg peak RSS, this chain and the previous one (alternating), and whether
    the stored files were identical."""
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "before": []}
    shas: set[str] = set()
    _run(path)  # warm: imports, the first scipy filter designs
    for _ in range(reps):
        cpu, mb, sha = _run(path)
        runs["ours"].append((cpu, mb))
        shas.add(sha)
        with previous_chain():
            cpu, mb, sha = _run(path)
        runs["before"].append((cpu, mb))
        shas.add(sha)
    out: dict[str, float | bool] = {"identical_output": len(shas) == 1}
    for who, values in runs.items():
        out[f"{who}_cpu"] = statistics.median(v[0] for v in values)
        out[f"{who}_mb"] = statistics.median(v[1] for v in values)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="loa-bench-cpu-"))
    try:
        for name, path in make_inputs(work).items():
            m = measure(path, args.reps)
            common = {"identical_output": m["identical_output"], "reps": args.reps,
                      "load_average": [round(v, 2) for v in os.getloadavg()]}
            print(json.dumps({
                "figure": f"master_recording_ffmpeg_peak_rss_{name}", "value": round(float(m["ours_mb"]), 1),
                "unit": "MB", "target": "< previous chain",
                "baseline": {"name": BASELINE, "value": round(float(m["before_mb"]), 1)}, **common},
                ensure_ascii=False), flush=True)
            print(json.dumps({
                "figure": f"master_recording_cpu_{name}", "value": round(float(m["ours_cpu"]), 3), "unit": "CPU s",
                "target": "report (within the load's noise)",
                "baseline": {"name": BASELINE, "value": round(float(m["before_cpu"]), 3)}, **common},
                ensure_ascii=False), flush=True)
            if not m["identical_output"]:
                return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
