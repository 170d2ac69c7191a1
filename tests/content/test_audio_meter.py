"""The in-process meters against the independent reference (ffmpeg's ebur128) and pyloudnorm."""
from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from content.audio import meter
from content.audio.ebur128 import ebur128_measure
from content.audio.ffmpeg import filter_pcm
from content.types import Pcm
from tests.content import fixtures


@pytest.mark.parametrize("name", ["quiet", "clipped", "uneven", "stereo", "hum"])
def test_meters_agree_with_ffmpeg_ebur128(name):
    pcm = fixtures.variant(name, 12.0)
    ours, ref = meter.measure(pcm), ebur128_measure(pcm)
    # ffmpeg prints one decimal, so 0.05 of the difference is rounding.
    assert abs(ours.integrated_lufs - ref.integrated_lufs) <= 0.2, (ours, ref)
    assert abs(ours.true_peak_dbtp - ref.true_peak_dbtp) <= 0.2, (ours, ref)
    assert abs(ours.loudness_range_lu - ref.loudness_range_lu) <= 0.4, (ours, ref)


@pytest.mark.parametrize("rate", [8000, 24000, 48000])
def test_meters_agree_at_other_rates(rate):
    pcm = filter_pcm(fixtures.variant("noisy", 8.0), f"aresample={rate}", out_rate=rate)
    ours, ref = meter.measure(pcm), ebur128_measure(pcm)
    assert abs(ours.integrated_lufs - ref.integrated_lufs) <= 0.2
    assert abs(ours.true_peak_dbtp - ref.true_peak_dbtp) <= 0.2


def test_integrated_matches_pyloudnorm_exactly():
    pcm = fixtures.variant("uneven", 12.0)
    expected = pyloudnorm.Meter(pcm.rate).integrated_loudness(pcm.samples.astype(np.float64))
    assert meter.integrated_lufs(pcm) == pytest.approx(expected, abs=0.01)


def test_true_peak_sees_intersample_peaks():
    # A sine at rate/4 sampled 45° off its crest: every sample is 0.707 of the true peak (+3 dB between them).
    rate = 48000
    t = np.arange(rate) / rate
    x = (0.5 * np.sin(2 * np.pi * (rate / 4) * t + np.pi / 4)).astype(np.float32)
    pcm = Pcm(x, rate)
    assert meter.sample_peak_db(pcm) == pytest.approx(20 * np.log10(0.5 * np.sqrt(0.5)), abs=0.05)
    assert meter.true_peak_dbtp(pcm) == pytest.approx(20 * np.log10(0.5), abs=0.3)


def test_true_peak_blocks_cover_the_whole_signal_across_chunk_edges():
    rate = 24000
    x = np.zeros(meter._CHUNK * 2 + 1234, np.float32)
    x[meter._CHUNK - 1] = 0.9  # right at a chunk boundary
    x[-3] = -0.5
    blocks = meter.true_peak_blocks(Pcm(x, rate), 0.01)
    assert len(blocks) == -(-len(x) // 240)
    assert blocks[(meter._CHUNK - 1) // 240] >= 0.9
    assert blocks[-1] >= 0.5
    assert meter.true_peak_dbtp(Pcm(x, rate)) >= 20 * np.log10(0.9)


def test_silence_and_short_audio_measure_as_silent():
    assert meter.integrated_lufs(fixtures.silent(2.0)) == -120.0
    assert meter.true_peak_dbtp(fixtures.silent(2.0)) == -120.0
    assert meter.integrated_lufs(Pcm(np.ones(100, np.float32) * 0.5, 48000)) == -120.0
    assert meter.loudness_range_lu(Pcm(np.ones(1000, np.float32) * 0.5, 48000)) == 0.0
