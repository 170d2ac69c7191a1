"""Live broadcast benchmark (issue 15): mouth-to-speaker latency, its drift, and the level on the loudspeakers.
One JSON line per figure (house format), each with a baseline measured in the same run.

The whole real path: `loa serve` (its own process, SQLite) with the stream hub; headless Chromium (Debian's,
Playwright) logged in as a cadre taps "Phát trực tiếp" on the live page, its fake microphone
(`--use-file-for-fake-audio-capture`) plays a known signal; the page's MediaRecorder slices (250 ms) go to the
station, whose ffmpeg levels and re-encodes them; N real agents (the agent's runner: enrollment, SSE push,
the signed `live` command, the player and its FfmpegSink with the low-latency live input options) decode the
station's stream to PCM on a pipe, each chunk stamped with the wall clock as ffmpeg writes it (where ALSA would
take it: a real card adds its own buffer, typically 0.05–0.2 s, not counted here).

The signal (60 s, looped by Chromium): 30 s of quiet speech (−40 LUFS: the cadre far from the phone), then 30 s
shouted (−9 LUFS, saturated), with a quiet 120 ms beep every second cycling through five frequencies
(1.5–2.7 kHz), so a beep heard on a loudspeaker is matched to the beep the microphone gave up to 5 s earlier
without ambiguity. "Mouth" is when the page got the beep from the microphone:
a script added to the page (Playwright init script) listens to the live page's own microphone stream (the page
announces it with a `loa:live-stream` event) and stamps beep onsets with the wall clock. "Speaker" is the
first 20 ms frame of an agent's PCM where that beep's frequency stands out.

Figures: latency p50 and p95 over every beep of every agent; drift = median latency of the last fifth of the run
minus that of the first fifth; level = integrated loudness of agent 0's output over every 30 s window (every
10 s), the worst distance from −16 LUFS. Baselines, same run: for latency, a short second session with the
agents' ffmpeg on its default input options (no `-fflags nobuffer`, default probesize/analyzeduration); for
level, the microphone signal's own loudness (what the loudspeakers would play without levelling).

Usage: .venv/bin/python bench/live.py [--agents 9] [--minutes 2] [--baseline-seconds 40]
       (the issue's figure: --agents 100 --minutes 30)
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pyloudnorm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from content.audio.ffmpeg import ffmpeg_exe  # noqa: E402
from tests.broadcaster.station.agentproc import enrollment_code  # noqa: E402
from tests.content import fixtures  # noqa: E402
from tests.broadcaster.station.streams.browserphone import go_live, log_in, phone  # noqa: E402
from tests.broadcaster.station.streams.liverig import LiveAgent  # noqa: E402
from tests.api.web.web_rig import PASSWORD, T0, build_world  # noqa: E402
from tests.api.web.served import loa_serve  # noqa: E402

MIC_RATE, OUT_RATE = 48000, 16000
BEEP_HZ = (1500, 1800, 2100, 2400, 2700)
BEEP_S, PERIOD_S = 0.12, 1.0
TARGET_LUFS = -16.0

# In the page: the microphone stream the live page announces, through a ScriptProcessor; each buffer's energy
# at every beep frequency (Goertzel); a beep's onset is stamped with the wall clock of its buffer's start.
MOUTH_JS = """
(() => {
  const FREQS = %s;
  window.__mouth = [];
  document.addEventListener('loa:live-stream', (ev) => {
    const ctx = new AudioContext();
    const src = ctx.createMediaStreamSource(ev.detail);
    const proc = ctx.createScriptProcessor(1024, 1, 1);
    const on = FREQS.map(() => false);
    proc.onaudioprocess = (e) => {
      const x = e.inputBuffer.getChannelData(0), n = x.length, sr = ctx.sampleRate;
      const wall = performance.timeOrigin + performance.now() - 1000 * n / sr;
      let total = 0; for (let i = 0; i < n; i++) total += x[i] * x[i];
      FREQS.forEach((f, k) => {
        const w = 2 * Math.cos(2 * Math.PI * f / sr); let s1 = 0, s2 = 0;
        for (let i = 0; i < n; i++) { const s0 = x[i] + w * s1 - s2; s2 = s1; s1 = s0; }
        const p = (s1 * s1 + s2 * s2 - w * s1 * s2) / (n * n / 4);
        const loud = p > 0.01 && p > 0.3 * total / n;
        if (loud && !on[k]) window.__mouth.push([k, wall / 1000]);
        on[k] = loud;
      });
    };
    src.connect(proc); proc.connect(ctx.destination);
  });
})();
""" % json.dumps(list(BEEP_HZ))


def _at_mic_rate(pcm) -> np.ndarray:  # noqa: ANN001
    raw = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "f32le", "-ar", str(pcm.rate), "-ac", "1",
                          "-i", "pipe:0", "-ar", str(MIC_RATE), "-f", "f32le", "pipe:1"],
                         input=np.ascontiguousarray(pcm.samples, dtype="<f4").tobytes(),
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).copy()


def windows(x: np.ndarray, rate: int) -> list[float]:
    """Integrated loudness of every 30 s window, every 10 s."""
    meter = pyloudnorm.Meter(rate)
    return [meter.integrated_loudness(x[i:i + 30 * rate].astype(np.float64))
            for i in range(0, len(x) - 30 * rate + 1, 10 * rate)]


def mic_signal(seconds: float = 60.0) -> tuple[np.ndarray, list[float]]:
    """What the fake microphone plays, looped: half quiet speech (−40 LUFS: far from the phone), half loud
    (−9 LUFS, saturated: shouting into it), a quiet beep every second; and its own 30 s window loudness."""
    half = seconds / 2
    x = np.concatenate([_at_mic_rate(fixtures.variant("quiet", half)), _at_mic_rate(fixtures.variant("loud", half))])
    t = np.arange(int(BEEP_S * MIC_RATE)) / MIC_RATE
    ramp = np.minimum(1, np.minimum(t, BEEP_S - t) / 0.005)
    for i in range(int(seconds / PERIOD_S)):
        lo = int(i * PERIOD_S * MIC_RATE)
        beep = 0.1 * np.sin(2 * np.pi * BEEP_HZ[i % len(BEEP_HZ)] * t) * ramp
        x[lo:lo + len(beep)] += beep[: len(x) - lo].astype(np.float32)
    x = np.clip(x, -1, 1)
    return x, windows(np.concatenate([x, x]), MIC_RATE)  # looped, as Chromium plays it


def write_wav(x: np.ndarray, path: Path) -> None:
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(MIC_RATE), "-ac", "1",
                    "-i", "pipe:0", "-c:a", "pcm_s16le", str(path)], input=x.astype("<f4").tobytes(), check=True)


def speaker_onsets(take) -> list[tuple[int, float]]:  # noqa: ANN001
    """(beep index k, wall time) of each beep onset in an agent's output: 20 ms frames, Goertzel per frequency."""
    x = take.samples().astype(np.float64)
    n = OUT_RATE // 50
    frames = len(x) // n
    if frames == 0:
        return []
    f = x[: frames * n].reshape(frames, n)
    total = (f ** 2).mean(axis=1) + 1e-12
    t = np.arange(n) / OUT_RATE
    out = []
    for k, hz in enumerate(BEEP_HZ):
        c, s = np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t)
        p = ((f @ c) ** 2 + (f @ s) ** 2) / (n * n / 4)
        loud = (p > 0.3 * total) & (p > 1e-3)
        starts = np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]]))
        out += [(k, take.wall_of(int(i * n))) for i in starts]
    return out


def latencies(mouth: list[tuple[int, float]], takes: list) -> list[tuple[float, float]]:  # noqa: ANN001
    """(mouth time, latency) for every beep heard: matched to the latest same-frequency beep the microphone gave
    before it (within one full cycle of frequencies)."""
    by_k: dict[int, list[float]] = {}
    for k, at in mouth:
        by_k.setdefault(k, []).append(at)
    out = []
    for take in takes:
        for k, heard in speaker_onsets(take):
            before = [m for m in by_k.get(k, []) if m <= heard and heard - m < len(BEEP_HZ) * PERIOD_S]
            if before:
                out.append((before[-1], heard - before[-1]))
    return out


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def line(figure: str, value, unit: str, target: str, baseline: dict, **extra) -> None:  # noqa: ANN001
    print(json.dumps({"figure": figure, "value": value, "unit": unit, "target": target, "baseline": baseline,
                      **extra}, ensure_ascii=False), flush=True)


def session(page, base, world, cadre, agents, seconds: float) -> tuple[int, list, list]:  # noqa: ANN001
    """One live session of `seconds`: (id, the microphone's beep onsets, each agent's take)."""
    page.goto(f"{base}/app/c/{world.a}")
    go_live(page, base, world.a, None)
    sid = cadre.get(f"/api/v1/communes/{world.a}/live").json()[0]["id"]
    time.sleep(seconds)
    page.get_by_role("button", name="Dừng phát").click()
    deadline = time.monotonic() + 20
    while cadre.get(f"/api/v1/live/{sid}").json()["on_air"] and time.monotonic() < deadline:
        time.sleep(0.2)
    mouth = [(int(k), float(at)) for k, at in page.evaluate("window.__mouth || []")]
    takes = [t for a in agents for t in a.sink.of(f"live-l{sid}")]
    return sid, mouth, takes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=9)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--baseline-seconds", type=float, default=40.0)
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print(json.dumps({"error": "chromium missing: apt-get install chromium"}))
        return 2
    from loa.db import make_engine, upgrade

    tmp = Path(tempfile.mkdtemp(prefix="loa-bench-live-"))
    agents: list[LiveAgent] = []
    try:
        data = tmp / "station"
        data.mkdir()
        engine = make_engine(f"sqlite:///{data / 'loa.db'}")
        upgrade(engine)
        world = build_world(engine, datetime.now(T0.tzinfo))
        engine.dispose()
        mic, mic_windows = mic_signal()
        write_wav(mic, tmp / "mic.wav")
        with loa_serve(data) as base:
            token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD})
            cadre = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                                 timeout=60)
            for i in range(args.agents):
                _, code = enrollment_code(cadre, world, world.village_a if i % 2 else world.village_a2)
                agents.append(LiveAgent(base, tmp / f"agent{i}", code, ffmpeg_exe(), OUT_RATE))
            deadline = time.monotonic() + 120
            while not all(a.has_manifest() for a in agents) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(3)  # SSE streams open
            with phone(chromium, tmp / "profile", tmp / "mic.wav") as browser:
                page = browser.new_page()
                page.add_init_script(MOUTH_JS)
                log_in(page, base, "cadre", PASSWORD)
                _, mouth, takes = session(page, base, world, cadre, agents, args.minutes * 60)
                lat = latencies(mouth, takes)
                for a in agents:
                    a.sink.live_input = ()  # the baseline: ffmpeg's default input probing on every agent
                _, b_mouth, b_takes = session(page, base, world, cadre, agents, args.baseline_seconds)
                b_lat = latencies(b_mouth, b_takes)
            cadre.close()
        if not lat:
            print(json.dumps({"error": "no beep heard", "mouth": len(mouth), "takes": len(takes)}))
            return 1
        values = [v for _, v in lat]
        base_values = [v for _, v in b_lat] or [float("nan")]
        heard_by = len({id(t) for t in takes if speaker_onsets(t)})
        common = dict(agents=args.agents, minutes=args.minutes, beeps_heard=len(values), agents_heard=heard_by,
                      beeps_sent=len(mouth))
        baseline = {"name": "same run, agents' ffmpeg with default input options", "p50": round(
            statistics.median(base_values), 3), "p95": round(pct(base_values, 0.95), 3), "n": len(b_lat)}
        line("live_mouth_to_speaker_p50", round(statistics.median(values), 3), "s", "<= 3.0",
             {**baseline, "value": baseline["p50"]}, **common)
        line("live_mouth_to_speaker_p95", round(pct(values, 0.95), 3), "s", "<= 3.0",
             {**baseline, "value": baseline["p95"]}, **common)
        t0, t1 = min(m for m, _ in lat), max(m for m, _ in lat)
        span = t1 - t0
        first = [v for m, v in lat if m <= t0 + span / 5]
        last = [v for m, v in lat if m >= t1 - span / 5]
        drift = statistics.median(last) - statistics.median(first)
        line("live_latency_drift", round(drift, 3), "s", "< 1.0 (abs)",
             {"name": "latency p50 of the first fifth of the run", "value": round(statistics.median(first), 3)},
             span_s=round(span, 1), **common)
        out = takes[0].samples() if takes else np.zeros(0)
        win = windows(out, OUT_RATE)
        worst = max((abs(w - TARGET_LUFS) for w in win), default=float("nan"))
        line("live_level_worst_30s_window_off_target", round(worst, 2), "LU", "<= 2.0",
             {"name": "the microphone signal itself, unlevelled (half quiet, half shouted speech)",
              "value": round(max(abs(w - TARGET_LUFS) for w in mic_windows), 2)},
             windows_lufs=[round(w, 2) for w in win], mic_windows_lufs=[round(w, 2) for w in mic_windows])
        return 0
    finally:
        for a in agents:
            a.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
