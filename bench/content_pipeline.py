"""Content pipeline benchmark (issue 2). Prints one JSON line per figure (format: .helpers/COMMON.md).

1. A 1,000-character Vietnamese announcement, text → mastered Opus in the store (render_text, espeak),
   beside the raw espeak synthesis time of the same text.
2. A 10-minute phone recording with uneven levels (espeak speech, the speaker drifting between 0, −6 and −14 dB),
   master_recording wall time and real-time factor, beside ffmpeg's two-pass `loudnorm` (pass 1 measures,
   pass 2 applies with linear=true) writing the same Opus; accuracy of both measured by ffmpeg's ebur128.

3. Memory (issue 13): peak RSS of a fresh process mastering a 30-minute recording (a 1.3 MB Opus file made here
   with ffmpeg from espeak speech, levels drifting), alone and three at once (three threads in one process, as
   three uploads in one server without the mastering-slot limit), beside the same process idle; with the loudness
   and true peak reached (ffmpeg ebur128). See bench/mastering_memory.py for what each RSS figure covers.

Usage: .venv/bin/python bench/content_pipeline.py [--reps N] [--minutes M] [--long-minutes L] [--only memory]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from content.audio.ebur128 import ebur128_measure
from content.audio.ffmpeg import ffmpeg_exe
from content.pipeline import MasteringSettings, master_recording, render_text
from content.store import AudioStore
from content.tts.espeak import synthesize_pcm

ANNOUNCEMENT = (
    "Thông báo của Ủy ban nhân dân xã Cốc San. Thực hiện kế hoạch chuyển đổi số năm 2026, từ ngày 15 tháng 12 "
    "đến hết ngày 31 tháng 12, Ủy ban nhân dân xã tổ chức hướng dẫn bà con cài đặt và kích hoạt tài khoản định "
    "danh điện tử mức độ hai, cài đặt ứng dụng sổ sức khỏe điện tử và ứng dụng bảo hiểm xã hội số. Địa điểm: hội "
    "trường Ủy ban nhân dân xã và nhà văn hóa các thôn. Thời gian: buổi sáng từ 7 giờ 30 phút đến 11 giờ, buổi "
    "chiều từ 13 giờ 30 phút đến 17 giờ, kể cả thứ bảy và chủ nhật. Khi đến, bà con mang theo căn cước công dân "
    "gắn chíp và điện thoại thông minh có kết nối mạng. Đoàn thanh niên xã sẽ cử đoàn viên đến từng thôn để hỗ "
    "trợ người cao tuổi và những gia đình chưa có điện thoại thông minh. Các trưởng thôn có trách nhiệm thông báo "
    "rộng rãi đến từng hộ gia đình, lập danh sách các hộ cần hỗ trợ và gửi về Ủy ban nhân dân xã trước ngày 14 "
    "tháng 12. Mọi thắc mắc xin liên hệ bộ phận một cửa của xã, số điện thoại 0214 3880 123. Ủy ban nhân dân xã "
    "đề nghị bà con nhân dân quan tâm, sắp xếp thời gian tham gia đầy đủ. Xin trân trọng thông báo."
)
TARGET = -16.0


def line(figure: str, value: float, unit: str, target: str, baseline: dict | None = None, **extra) -> None:
    out = {"figure": figure, "value": round(value, 3), "unit": unit, "target": target}
    if baseline is not None:
        out["baseline"] = baseline
    out.update(extra)
    print(json.dumps(out, ensure_ascii=False), flush=True)


def _cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (the ffmpeg processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


CPU_MEDIANS: dict[str, float] = {}  # label -> median CPU seconds of the last timed() with that label


def timed(fn, reps: int, label: str | None = None) -> tuple[float, object]:
    """Median wall time of `reps` runs. The machine is shared, so the CPU time (ours plus ffmpeg's) is kept
    too under `label`: it moves far less with the load than the wall time does."""
    times, cpu, result = [], [], None
    for _ in range(reps):
        start, cpu_start = time.perf_counter(), _cpu_s()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(_cpu_s() - cpu_start)
    if label:
        CPU_MEDIANS[label] = round(statistics.median(cpu), 3)
    return statistics.median(times), result


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_text(work: Path, reps: int) -> None:
    store = AudioStore(work / "text-store")
    settings = MasteringSettings()
    raw_s, _ = timed(lambda: synthesize_pcm(ANNOUNCEMENT), reps)
    render_text(ANNOUNCEMENT, store, engine="espeak", settings=settings)  # warm: imports, the espeak voice
    load_before = load_average()
    pipe_s, facts = timed(lambda: render_text(ANNOUNCEMENT, store, engine="espeak", settings=settings), reps,
                          "text")
    ref = ebur128_measure(store.path_for(facts.sha256))
    line("text_to_mastered_opus_wall_time", pipe_s, "s", "< 1.0",
         {"name": "espeak synthesis alone", "value": round(raw_s, 3)},
         chars=len(ANNOUNCEMENT), audio_s=facts.duration_s, reps=reps, cpu_s=CPU_MEDIANS["text"],
         load_avg_before=load_before, load_avg_after=load_average(),
         integrated_lufs=ref.integrated_lufs, true_peak_dbtp=ref.true_peak_dbtp, size_bytes=facts.size_bytes)


def uneven_recording(work: Path, minutes: float) -> Path:
    """Espeak speech to `minutes`, with the level drifting (ramps between 0, −6 and −14 dB), as a phone m4a."""
    pcm = synthesize_pcm(ANNOUNCEMENT)
    reps = int(minutes * 60 / pcm.duration_s) + 1
    x = np.tile(pcm.samples, reps)[: int(minutes * 60 * pcm.rate)]
    rng = np.random.default_rng(1)
    points = np.arange(0, len(x) + 1, 20 * pcm.rate)
    levels = rng.choice([0.0, -6.0, -14.0], size=len(points))
    gain_db = np.interp(np.arange(len(x)), points, levels)
    x = (x * 10 ** (gain_db / 20) * 0.5).astype(np.float32)
    path = work / "uneven-10min.m4a"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(pcm.rate),
                    "-ac", "1", "-i", "pipe:0", "-ar", "44100", "-c:a", "aac", "-b:a", "64k", str(path)],
                   input=x.tobytes(), check=True)
    return path


def loudnorm_two_pass(src: Path, out: Path) -> None:
    """ffmpeg's own answer: measure, then apply with linear=true (it may fall back to dynamic mode)."""
    first = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(src), "-af",
         f"loudnorm=I={TARGET}:TP=-1:LRA=8:print_format=json", "-f", "null", "-"],
        capture_output=True, check=True).stderr.decode()
    m = json.loads(first[first.rfind("{"): first.rfind("}") + 1])
    af = (f"loudnorm=I={TARGET}:TP=-1:LRA=8:measured_I={m['input_i']}:measured_TP={m['input_tp']}:"
          f"measured_LRA={m['input_lra']}:measured_thresh={m['input_thresh']}:offset={m['target_offset']}:"
          "linear=true")
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src),
                    "-af", af, "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "24k", str(out)], check=True)


def bench_recording(work: Path, reps: int, minutes: float) -> None:
    src = uneven_recording(work, minutes)
    stores = []

    def ours():
        store = AudioStore(work / f"rec-store-{len(stores)}")  # a fresh store: no shortcut from a previous run
        stores.append(store)
        return store, master_recording(src, store)

    load_before = load_average()
    ours_s, (store, facts) = timed(ours, reps, "recording")
    ours_ref = ebur128_measure(store.path_for(facts.sha256))
    out = work / "loudnorm.ogg"
    ln_s, _ = timed(lambda: loudnorm_two_pass(src, out), reps, "loudnorm")
    ln_ref = ebur128_measure(out)
    seconds = minutes * 60
    line("recording_master_wall_time", ours_s, "s", "< two-pass loudnorm",
         {"name": "ffmpeg two-pass loudnorm linear=true, to the same Opus", "value": round(ln_s, 3)},
         audio_s=seconds, reps=reps, cpu_s=CPU_MEDIANS["recording"], baseline_cpu_s=CPU_MEDIANS["loudnorm"],
         load_avg_before=load_before, load_avg_after=load_average())
    line("recording_master_realtime_factor", seconds / ours_s, "x real time", "> two-pass loudnorm",
         {"name": "ffmpeg two-pass loudnorm linear=true", "value": round(seconds / ln_s, 1)})
    line("recording_loudness_error", abs(ours_ref.integrated_lufs - TARGET), "LU", "<= 0.5",
         {"name": "ffmpeg two-pass loudnorm linear=true", "value": round(abs(ln_ref.integrated_lufs - TARGET), 2)},
         measured_by="ffmpeg ebur128", integrated_lufs=ours_ref.integrated_lufs,
         baseline_integrated_lufs=ln_ref.integrated_lufs)
    line("recording_true_peak", ours_ref.true_peak_dbtp, "dBTP", "<= -1.0",
         {"name": "ffmpeg two-pass loudnorm linear=true", "value": ln_ref.true_peak_dbtp}, measured_by="ffmpeg ebur128")
    line("recording_loudness_range", ours_ref.loudness_range_lu, "LU", "<= 8.0",
         {"name": "ffmpeg two-pass loudnorm linear=true", "value": ln_ref.loudness_range_lu},
         source_lra=ebur128_measure(src).loudness_range_lu, measured_by="ffmpeg ebur128")


def bench_memory(work: Path, minutes: float) -> None:
    from mastering_memory import long_recording, measure  # beside this script

    src = long_recording(work, minutes, synthesize_pcm(ANNOUNCEMENT))
    idle = measure("idle", src, work / "idle")
    for copies in (1, 3):
        load_before = load_average()
        run = measure("master", src, work / f"x{copies}", copies)
        figure = "long_recording_peak_rss" if copies == 1 else "three_long_recordings_at_once_peak_rss"
        line(figure, run["tree_peak_mb"], "MB", "< 300" if copies == 1 else "report",
             {"name": "the same process idle (Python with the pipeline imported)", "value": idle["tree_peak_mb"]},
             measured="RSS of the mastering Python process plus its ffmpeg children, summed, sampled every 50 ms",
             python_peak_mb=run["python_peak_mb"], python_idle_peak_mb=idle["python_peak_mb"],
             largest_ffmpeg_mb=run["ffmpeg_peak_mb"], copies=copies, audio_s=run["duration_s"],
             fixture_bytes=src.stat().st_size, wall_s=run["wall_s"], load_avg_before=load_before,
             load_avg_after=load_average())
        line(figure.replace("peak_rss", "loudness_error"), max(abs(v - TARGET) for v in run["integrated_lufs"]),
             "LU", "<= 0.5", None, integrated_lufs=run["integrated_lufs"], measured_by="ffmpeg ebur128")
        line(figure.replace("peak_rss", "true_peak"), max(run["true_peak_dbtp"]), "dBTP", "<= -1.0", None,
             true_peak_dbtp=run["true_peak_dbtp"], measured_by="ffmpeg ebur128")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--only", choices=["speed", "memory"])
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="loa-bench-content-"))
    try:
        if args.only != "memory":
            bench_text(work, max(5, args.reps))
            bench_recording(work, args.reps, args.minutes)
        if args.only != "speed":
            bench_memory(work, args.long_minutes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
