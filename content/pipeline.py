"""Entry points of the content pipeline: recording or text in, mastered audio in the store, facts out.

    master_pcm        the chain on decoded audio: mono → trim → high-pass → leveling → loudness → chime → repeat
    encode_and_store  encode (Opus/Ogg or MP3), measure what was encoded, correct, store by sha256
    master_recording  ingest (checks) + master_pcm + encode_and_store
    render_text       TTS (content.tts.render.synthesize) + master_pcm + encode_and_store
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from content.audio import assembly, steps
from content.audio.ffmpeg import OUTPUT_FORMATS, decode_to_pcm
from content.audio.ingest import IngestLimits, ingest
from content.audio.loudness import correct_after_codec, normalize_loudness
from content.audio.roundtrip import encode_and_decode
from content.audio.meter import Loudness, loudness_and_range, true_peak_blocks
from content.store import AudioStore
from content.types import AudioFacts, Pcm, Speech

log = logging.getLogger(__name__)

OUTPUT_RATE = 48000  # Opus decodes at 48 kHz whatever it was fed; MP3 is made at the same rate
# The decoded encoding is measured at 24 kHz: Opus at speech bitrates carries nothing above 12 kHz, the loudness
# figures agree with ebur128 on the 48 kHz file within 0.05 LU (tested), and half an hour then fits in 170 MB.
# The true peak is taken by ebur128 at the decoder's own 48 kHz.
MEASURE_RATE = 24000
FACTS_TOLERANCE_LU = 0.4  # encoded result must land this close to the target (the spec allows 0.5)
ENCODE_ROUNDS = 4
_PEAK_BLOCK_S = 0.01
# Lossy coding raises true peaks and lowers loudness a little. Measured on limited speech: Opus 24 kb/s
# overshoots by up to ~1.4 dB somewhere in a 10-minute item and ~1.6 dB in a 29-minute one (more blocks, a
# longer tail), and loses 0.2–0.4 LU; MP3 64 kb/s overshoots ~0.1 dB and loses ~0.4 LU. The first encode
# starts from these margins; later rounds correct what was measured.
_CODEC_PEAK_MARGIN_DB = {"opus": 2.0, "mp3": 0.2}
_CODEC_LOUDNESS_OFFSET_LU = {"opus": 0.3, "mp3": 0.4}


@dataclass(frozen=True)
class MasteringSettings:
    target_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    highpass_hz: float | None = 150.0
    leveling: bool = True
    max_loudness_range_lu: float = 8.0
    chime: bool = False
    repeat: int = 1
    repeat_gap_s: float = 3.0
    format: str = "ogg-opus"
    bitrate_kbps: int = 24
    max_duration_s: float = 1800.0
    max_size_bytes: int = 200 * 1024 * 1024
    chime_path: str | None = None  # a chime recording to use instead of the generated two-tone one

    def __post_init__(self) -> None:
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(f"format must be one of {sorted(OUTPUT_FORMATS)}")
        if not -40.0 <= self.target_lufs <= -5.0:
            raise ValueError("target_lufs must be between -40 and -5")
        if not -10.0 <= self.true_peak_dbtp <= 0.0:
            raise ValueError("true_peak_dbtp must be between -10 and 0")
        if self.repeat < 1 or self.repeat > 10:
            raise ValueError("repeat must be between 1 and 10")
        if self.repeat_gap_s < 0:
            raise ValueError("repeat_gap_s must not be negative")
        if not 8 <= self.bitrate_kbps <= 320:
            raise ValueError("bitrate_kbps must be between 8 and 320")

    @property
    def effective_bitrate_kbps(self) -> int:
        """The bitrate actually used: MPEG-1 Layer III at 48 kHz has nothing under 32 kb/s, so an MP3 asked
        for with the Opus default (24) gets 64 kb/s, the speech rate we recommend for MP3."""
        if self.format == "mp3" and self.bitrate_kbps < 32:
            return 64
        return self.bitrate_kbps

    @property
    def limits(self) -> IngestLimits:
        return IngestLimits(self.max_duration_s, self.max_size_bytes)


def _chimes(settings: MasteringSettings, rate: int, chime_audio: Pcm | None, aim_lufs: float,
            aim_ceiling: float) -> tuple[Pcm, Pcm]:
    if chime_audio is None and settings.chime_path:
        chime_audio = decode_to_pcm(settings.chime_path, rate=rate, mono=True)
    if chime_audio is not None:
        chime = steps.to_mono(steps.resample(chime_audio, rate))
        before = after = chime
    else:
        before = assembly.make_chime(rate, assembly.CHIME_BEFORE_HZ)
        after = assembly.make_chime(rate, assembly.CHIME_AFTER_HZ)
    # A chime as loud as the speech, never louder: it announces, it must not startle.
    level = lambda c: normalize_loudness(c, aim_lufs - 1.0, aim_ceiling)  # noqa: E731
    return level(before), level(after)


def _master(pcm: Pcm, settings: MasteringSettings, aim_lufs: float, aim_ceiling: float,
            chime_audio: Pcm | None = None) -> Pcm:
    x = steps.to_mono(pcm)
    del pcm  # the caller's reference aside, let each step's input go as soon as the next exists
    x = steps.resample(x, steps.WORK_RATE)
    x = steps.trim_silence(x)
    x = steps.highpass(x, settings.highpass_hz)
    if settings.leveling:
        x = steps.level_speech(x, settings.max_loudness_range_lu)
    # 0.3 LU is close enough here: the encode stage measures the encoded result and corrects the gain.
    x = normalize_loudness(x, aim_lufs, aim_ceiling, tolerance_lu=0.3)
    if settings.chime:
        before, after = _chimes(settings, x.rate, chime_audio, aim_lufs, aim_ceiling)
        x = assembly.with_chimes(x, before, after)
    return assembly.repeat(x, settings.repeat, settings.repeat_gap_s)


def master_pcm(pcm: Pcm, settings: MasteringSettings = MasteringSettings(), *, chime_audio: Pcm | None = None) -> Pcm:
    """Run the mastering chain on decoded audio; returns mono Pcm at the working rate (24 kHz) at the target
    loudness under the true-peak ceiling, ready to encode."""
    return _master(pcm, settings, settings.target_lufs, settings.true_peak_dbtp, chime_audio)


def _codec_aim(settings: MasteringSettings) -> tuple[float, float]:
    codec = OUTPUT_FORMATS[settings.format].codec
    return (settings.target_lufs + _CODEC_LOUDNESS_OFFSET_LU.get(codec, 0.0),
            settings.true_peak_dbtp - _CODEC_PEAK_MARGIN_DB.get(codec, 0.0))


def _miss(loud: Loudness, settings: MasteringSettings) -> float:
    """How far an encoded result is outside the spec (0 = inside)."""
    return max(0.0, abs(loud.integrated_lufs - settings.target_lufs) - FACTS_TOLERANCE_LU,
               loud.true_peak_dbtp - settings.true_peak_dbtp)


def encode_and_store(
    pcm: Pcm, store: AudioStore, settings: MasteringSettings = MasteringSettings(), *, speech: Speech | None = None
) -> AudioFacts:
    """Encode mastered Pcm (from master_pcm), measure the DECODED encoding (what devices play), correct and
    re-encode when the codec moved loudness or peaks out of spec, then store the best attempt and its facts."""
    return _encode_and_store(pcm, store, settings, speech=speech, aimed=False)


def _encode_and_store(pcm: Pcm, store: AudioStore, settings: MasteringSettings, *, speech: Speech | None,
                      aimed: bool) -> AudioFacts:
    """`aimed`: pcm was mastered with the codec's margins already (_master with _codec_aim), so the first
    attempt encodes it as is."""
    spec = OUTPUT_FORMATS[settings.format]
    target, ceiling = settings.target_lufs, settings.true_peak_dbtp
    aim_lufs, aim_ceiling = _codec_aim(settings)
    best: tuple[float, Path, Loudness, float] | None = None
    work_dir = store.temp_dir()  # private to this call, on the store's filesystem: the final move is a rename
    try:
        # The first encode starts from a codec-aware master; later ones correct what the codec did.
        candidate = pcm if aimed else normalize_loudness(pcm, aim_lufs, aim_ceiling)
        for attempt in range(ENCODE_ROUNDS):
            tmp = work_dir / f"attempt{attempt}.{spec.ext}"
            # The true peak comes from ffmpeg's ebur128 in the decoding pass (nearly free), which for Opus runs
            # alongside the encoder; loudness and range from the in-process meter on the decoded samples.
            decoded, true_peak = encode_and_decode(
                candidate, tmp, settings.format, settings.effective_bitrate_kbps, OUTPUT_RATE, MEASURE_RATE)
            integrated, loudness_range = loudness_and_range(decoded)
            loud = Loudness(integrated, true_peak, loudness_range)
            miss = _miss(loud, settings)
            log.debug("encode attempt %d: %.2f LUFS, %.2f dBTP, %.2f LU", attempt, loud.integrated_lufs,
                      loud.true_peak_dbtp, loud.loudness_range_lu)
            if best is None or miss < best[0]:
                best = (miss, tmp, loud, decoded.duration_s)
            if miss == 0.0:
                break
            # Where did the codec overshoot? Only now is the per-block 4x-oversampled meter worth its cost.
            # Each retry also pulls down blocks that came near the ceiling (0.3 dB, then 0.6, …): re-encoding
            # moves the codec's noise, so a peak that was just under can come out just over next time.
            # A loudness already close to target is left alone: raising it would push every peak up too.
            peaks = true_peak_blocks(decoded, _PEAK_BLOCK_S)
            measured = loud.integrated_lufs if abs(loud.integrated_lufs - target) > 0.15 else target
            candidate = correct_after_codec(candidate, peaks, _PEAK_BLOCK_S, measured, target, ceiling,
                                            margin_db=0.3 * (attempt + 1))
        assert best is not None
        _, tmp, loud, duration = best
        size = tmp.stat().st_size
        sha256 = store.put_file(tmp, spec.ext, move=True)
        facts = AudioFacts(
            sha256=sha256, format=settings.format, codec=spec.codec, bitrate_kbps=settings.effective_bitrate_kbps,
            sample_rate=OUTPUT_RATE, duration_s=round(duration, 3),
            integrated_lufs=round(loud.integrated_lufs, 2), true_peak_dbtp=round(loud.true_peak_dbtp, 2),
            loudness_range_lu=round(loud.loudness_range_lu, 2), size_bytes=size,
        )
        if speech is not None:
            facts = dataclasses.replace(
                facts, engine=speech.engine, voice=speech.voice, speed=speech.speed,
                skipped_engines=[{"engine": s.engine, "reason": s.reason} for s in speech.skipped],
            )
        store.put_facts(facts)
        return facts
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def master_recording(
    path: str | os.PathLike, store: AudioStore, settings: MasteringSettings = MasteringSettings()
) -> AudioFacts:
    """Check, decode, master, encode and store an uploaded recording. Raises content.audio.ingest.IngestError
    (with a stable `.code`) for a file we refuse; nothing is written in that case."""
    mastered = _master(ingest(path, steps.WORK_RATE, settings.limits), settings, *_codec_aim(settings))
    return _encode_and_store(mastered, store, settings, speech=None, aimed=True)


# A word or two ("Thử.") comes out of espeak-ng in ~0.3 s, shorter than one 400 ms loudness block, so its
# loudness cannot be measured. Quiet room around it (as trim_silence keeps for recordings) makes it measurable.
_SHORT_SPEECH_S = 1.0
_PAD_S = 0.3


def _pad_short_speech(pcm: Pcm) -> Pcm:
    if pcm.duration_s >= _SHORT_SPEECH_S:
        return pcm
    import numpy as np

    pad = np.zeros((int(_PAD_S * pcm.rate),) + pcm.samples.shape[1:], dtype=pcm.samples.dtype)
    return Pcm(np.concatenate([pad, pcm.samples, pad]), pcm.rate)


def render_text(
    text: str,
    store: AudioStore,
    engine: str = "auto",
    voice: str | None = None,
    speed: float = 1.0,
    settings: MasteringSettings = MasteringSettings(),
    cache_dir: str | os.PathLike | None = None,
    lexicon=None,
) -> AudioFacts:
    """Speak `text` with the chosen engine (normalization happens inside synthesize), master and store it."""
    from content.tts.render import synthesize  # imported late: the TTS package loads engines lazily

    speech = synthesize(text, engine=engine, voice=voice, speed=speed, cache_dir=cache_dir, lexicon=lexicon)
    mastered = _master(_pad_short_speech(speech.pcm), settings, *_codec_aim(settings))
    return _encode_and_store(mastered, store, settings, speech=speech, aimed=True)
