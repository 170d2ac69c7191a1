"""The numpy look-ahead limiter and the oversampled peak envelope it runs on."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from content.audio import limiter, steps
from content.audio.ebur128 import ebur128_measure
from content.audio.loudness import TOLERANCE_LU, normalize_loudness_report
from content.audio.meter import oversampling_factor, true_peak_envelope
from content.types import Pcm
from tests.content import fixtures


def _reference_envelope(x: np.ndarray, factor: int) -> np.ndarray:
    up = np.abs(signal.resample_poly(x.astype(np.float64), factor, 1))
    return np.maximum(up.reshape(-1, factor).max(axis=1), np.abs(x))


def test_envelope_matches_full_oversampling_where_loud():
    pcm = steps.resample(fixtures.variant("clipped", 6.0), 24000)
    x = steps.to_mono(pcm).samples
    mono = Pcm(x, 24000)
    assert oversampling_factor(24000) == 8 and oversampling_factor(48000) == 4
    ref = _reference_envelope(x, 8)
    for floor in (0.0, 0.2):
        env = true_peak_envelope(mono, floor)
        loud = ref >= max(floor, 0.05) * 10 ** (4 / 20)  # the 4 dB overshoot margin the limiter relies on
        err_db = 20 * np.log10(env[loud] / ref[loud])
        assert np.abs(err_db).max() < 1e-4, np.abs(err_db).max()
        assert np.all(env >= np.abs(x) - 1e-7)  # never under the sample magnitude anywhere


def test_envelope_of_stereo_is_the_louder_channel():
    rng = np.random.default_rng(3)
    left = (0.3 * rng.standard_normal(24000)).astype(np.float32)
    stereo = Pcm(np.stack([left, 0.5 * left], axis=1), 24000)
    np.testing.assert_allclose(true_peak_envelope(stereo), true_peak_envelope(Pcm(left, 24000)), rtol=1e-6)


def test_gain_curve_stays_under_every_need_and_is_smooth():
    rate, step = 24000, limiter.grid_step(24000)
    rng = np.random.default_rng(7)
    env = np.abs(rng.standard_normal(rate * 3)).astype(np.float32) * 0.2
    env[rate: rate + 5] = 1.5  # a sharp burst
    gain, limit = 2.0, 0.7
    cells = limiter.grid_curve(limiter.cell_max(env, step), gain, limit, rate, step)
    curve = limiter.sample_curve(cells, len(env), step)
    assert len(curve) == len(env)
    assert np.all(curve * env <= limit * (1 + 1e-5))
    assert np.all(curve <= gain * (1 + 1e-6))
    # The dip around the burst begins ahead of it (look-ahead) and changes gradually.
    assert curve[rate - int(0.005 * rate)] < gain * 0.99
    assert np.abs(np.diff(curve)).max() < 0.02 * gain
    # Audio that never comes near the limit gets the plain gain.
    quiet = limiter.grid_curve(limiter.cell_max(env * 0.1, step), gain, limit, rate, step)
    assert np.all(quiet == np.float32(gain))


def test_sample_curve_interpolates_between_cell_centres():
    cells = np.array([1.0, 2.0, 4.0, 4.0, 0.5], np.float32)
    got = limiter.sample_curve(cells, 38, 8)
    want = np.interp(np.arange(38), np.arange(5) * 8 + 3.5, cells)
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("name,target,ceiling", [("uneven", -16.0, -1.0), ("stereo", -18.0, -3.0),
                                                 ("loud", -12.0, -1.0)])
def test_normalize_lands_on_target_by_ebur128(name, target, ceiling):
    pcm = steps.highpass(steps.resample(fixtures.variant(name, 12.0), 24000))
    out, report = normalize_loudness_report(pcm, target, ceiling)
    assert out.samples.shape == pcm.samples.shape  # the timeline is kept exactly
    # The search stops once within TOLERANCE_LU (0.2 LU, what the pipeline promises): most runs land within
    # 0.01 LU in one round, but a CI run stopped at 0.198 LU, and 0.05 asked for more than the code promises.
    assert abs(report.integrated_lufs - target) <= TOLERANCE_LU, report
    ref = ebur128_measure(out)
    assert abs(ref.integrated_lufs - target) <= 0.2, (ref, report)
    assert ref.true_peak_dbtp <= ceiling, (ref, report)
    assert report.true_peak_dbtp <= ceiling
