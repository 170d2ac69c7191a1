"""Each mastering step alone, on fixture audio, checked with ffmpeg's ebur128 where loudness matters."""
from __future__ import annotations

import numpy as np
import pytest

from content.audio import assembly, steps
from content.audio.ebur128 import ebur128_measure
from content.audio.loudness import apply_gain, correct_after_codec, normalize_loudness, normalize_loudness_report
from content.audio.meter import integrated_lufs, loudness_range_lu, true_peak_blocks
from content.audio.stream import assemble
from content.audio.stream.spill import Spill
from content.types import Pcm
from tests.content import fixtures


def _tone(hz: float, seconds: float, rate: int = 24000, amp: float = 0.3) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return Pcm((amp * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)


def test_to_mono_averages_channels_and_keeps_mono():
    stereo = fixtures.variant("stereo", 4.0)
    mono = steps.to_mono(stereo)
    assert mono.channels == 1 and len(mono.samples) == len(stereo.samples)
    np.testing.assert_allclose(mono.samples, stereo.samples.mean(axis=1), atol=1e-6)
    already = fixtures.variant("noisy", 2.0)
    assert steps.to_mono(already) is already


def test_resample_changes_rate_and_keeps_duration():
    pcm = fixtures.variant("noisy", 4.0)
    out = steps.resample(pcm, 24000)
    assert out.rate == 24000 and abs(out.duration_s - pcm.duration_s) < 0.01


def test_trim_silence_keeps_a_short_margin():
    speech = steps.resample(fixtures.variant("quiet", 5.0), 24000)  # quiet speech must not count as silence
    trimmed_speech = steps.trim_silence(speech)
    pad = np.zeros(3 * 24000, np.float32)
    padded = Pcm(np.concatenate([pad, trimmed_speech.samples, pad]), 24000)
    out = steps.trim_silence(padded, margin_s=0.3)
    assert trimmed_speech.duration_s <= out.duration_s <= trimmed_speech.duration_s + 0.7
    assert out.duration_s < padded.duration_s - 5.0
    lead = np.flatnonzero(np.abs(out.samples) > 1e-4)[0] / 24000
    assert 0.2 <= lead <= 0.65  # the natural margin is still there (plus the speech's own onset)


def test_highpass_removes_hum_and_keeps_voice_band():
    for hz, lo, hi in ((50, -200, -45), (1000, -0.2, 0.2)):
        tone = _tone(hz, 2.0)
        out = steps.highpass(tone, 150.0)
        core = slice(12000, 36000)  # skip the filter's start-up
        change = 20 * np.log10(np.std(out.samples[core]) / np.std(tone.samples[core]))
        assert lo <= change <= hi, (hz, change)
    assert steps.highpass(_tone(50, 1.0), None).samples is not None


def test_level_speech_narrows_the_loudness_range_of_an_uneven_recording():
    uneven = steps.resample(fixtures.variant("uneven"), 24000)
    assert loudness_range_lu(uneven) > 15
    out = steps.level_speech(uneven, max_range_lu=8.0)
    assert ebur128_measure(out).loudness_range_lu <= 8.0
    assert len(out.samples) == len(uneven.samples)


@pytest.mark.parametrize("name,target,ceiling", [("quiet", -16.0, -1.0), ("clipped", -16.0, -1.0),
                                                 ("noisy", -23.0, -2.0), ("loud", -14.0, -1.5)])
def test_normalize_loudness_reaches_target_under_the_ceiling(name, target, ceiling):
    pcm = steps.resample(fixtures.variant(name, 10.0), 24000)
    out, report = normalize_loudness_report(pcm, target, ceiling)
    ref = ebur128_measure(out)
    assert abs(ref.integrated_lufs - target) <= 0.3, (ref, report)
    assert ref.true_peak_dbtp <= ceiling, (ref, report)
    assert report.rounds <= 4


def test_normalize_refuses_silence():
    with pytest.raises(ValueError):
        normalize_loudness(fixtures.silent(2.0), -16.0, -1.0)


def test_correct_after_codec_dips_only_where_peaks_went_over():
    pcm = steps.resample(fixtures.variant("noisy", 6.0), 24000)
    pcm = normalize_loudness(pcm, -16.0, -2.0)
    peaks = true_peak_blocks(pcm, 0.01).copy()
    peaks[200] = 10 ** (-0.2 / 20)  # pretend the codec overshot to −0.2 dBTP at 2.0 s
    out = correct_after_codec(pcm, peaks, 0.01, integrated_lufs(pcm), integrated_lufs(pcm), -1.0)
    ratio = out.samples[24000 * 2 + 120] / pcm.samples[24000 * 2 + 120]
    assert 20 * np.log10(ratio) <= -1.0 + 1e-3  # at least the overshoot (0.8 dB) plus the margin
    far = slice(24000 * 4, 24000 * 5)
    np.testing.assert_allclose(out.samples[far], pcm.samples[far], rtol=1e-5, atol=1e-7)


def test_correct_after_codec_applies_the_loudness_correction_as_gain():
    pcm = normalize_loudness(steps.resample(fixtures.variant("noisy", 6.0), 24000), -16.0, -3.0)
    quiet_peaks = np.full(len(true_peak_blocks(pcm, 0.01)), 0.1)
    out = correct_after_codec(pcm, quiet_peaks, 0.01, -16.5, -16.0, -1.0)
    assert integrated_lufs(out) == pytest.approx(integrated_lufs(pcm) + 0.5, abs=0.01)


def _timeline(item: Pcm, work, before: Pcm | None = None, after: Pcm | None = None, repeat: int = 1,
              repeat_gap_s: float = 3.0) -> Pcm:
    """The mastering chain's splice (content/audio/stream/assemble.py), collected whole for the checks."""
    speech = Spill(work / "speech.f32")
    speech.append(item.samples)
    chunks = list(assemble.timeline(speech, item.rate, before, after, gap_s=0.4, repeat=repeat,
                                    repeat_gap_s=repeat_gap_s))
    speech.close()
    return Pcm(np.concatenate(chunks), item.rate)


def test_chime_is_two_tones_and_brackets_the_item(tmp_path):
    rate = 24000
    chime = assembly.make_chime(rate)
    spectrum = np.abs(np.fft.rfft(chime.samples))
    freqs = np.fft.rfftfreq(len(chime.samples), 1 / rate)
    top = sorted(freqs[np.argsort(spectrum)[-40:]])
    assert any(abs(f - 659.25) < 5 for f in top) and any(abs(f - 880) < 5 for f in top)
    item = apply_gain(steps.resample(fixtures.variant("noisy", 3.0), rate), 0)
    out = _timeline(item, tmp_path, chime, assembly.make_chime(rate, assembly.CHIME_AFTER_HZ))
    assert out.duration_s == pytest.approx(item.duration_s + 2 * (chime.duration_s + 0.4), abs=0.01)
    start = int((chime.duration_s + 0.4) * rate)
    np.testing.assert_allclose(out.samples[start:start + len(item.samples)], item.samples, atol=1e-6)


def test_repeat_inserts_silent_gaps(tmp_path):
    rate = 24000
    item = steps.resample(fixtures.variant("noisy", 2.0), rate)
    out = _timeline(item, tmp_path, repeat=3, repeat_gap_s=1.5)
    n = len(item.samples)
    gap = int(1.5 * rate)
    assert len(out.samples) == 3 * n + 2 * gap
    np.testing.assert_allclose(out.samples[n + gap: 2 * n + gap], item.samples, atol=1e-6)
    assert np.max(np.abs(out.samples[n: n + gap])) == 0.0
    np.testing.assert_allclose(_timeline(item, tmp_path).samples, np.clip(item.samples, -1, 1), atol=0)
