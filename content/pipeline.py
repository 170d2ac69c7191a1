"""Entry points of the content pipeline: recording or text in, mastered audio in the store, facts out.

    master_pcm        the chain on decoded audio: mono → trim → high-pass → leveling → loudness → chime → repeat
    (Each runs chunk by chunk through work files on the store's filesystem: content.audio.stream. Memory does
    not grow with the length of a recording.)
    encode_and_store  encode (Opus/Ogg or MP3), measure what was encoded, correct, store by sha256
    master_recording  ingest (checks) + master_pcm + encode_and_store
    render_text       TTS (content.tts.render.synthesize) + master_pcm + encode_and_store
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from content.audio import assembly, steps
from content.audio.ffmpeg import OUTPUT_FORMATS, decode_to_pcm
from content.audio.ingest import IngestLimits
from content.audio.loudness import normalize_loudness
from content.audio.meter import Loudness
from content.audio.stream import assemble, normalize, passes
from content.audio.stream.encode import codec_correction, encode_attempt
from content.audio.stream.spill import CHUNK, Spill
from content.store import AudioStore
from content.types import AudioFacts, Pcm, Speech

if TYPE_CHECKING:
    from content.textnorm import Lexicon

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
    return (normalize_loudness(before, aim_lufs - 1.0, aim_ceiling),
            normalize_loudness(after, aim_lufs - 1.0, aim_ceiling))


def _master(decoded: tuple[Spill, np.ndarray], settings: MasteringSettings, aim_lufs: float, aim_ceiling: float,
            work: Path, chime_audio: Pcm | None = None) -> Spill:
    """The chain from a decoded work file (mono, working rate, with its 20 ms levels) to the item to encode, in
    a work file: trim → high-pass → leveling → loudness → chime → repeat. Memory stays a few chunks."""
    audio, levels = decoded
    stage = passes.trim_and_highpass(audio, levels, settings.highpass_hz, work)
    audio.close()
    if settings.leveling:
        stage = passes.level_speech(stage, settings.max_loudness_range_lu, work)
    # 0.3 LU is close enough here: the encode stage measures the encoded result and corrects the gain.
    normalized = normalize.normalize_loudness(stage, aim_lufs, aim_ceiling, work, tolerance_lu=0.3)
    stage.close()
    if not settings.chime and settings.repeat == 1:
        return normalized
    before = after = None
    if settings.chime:
        before, after = _chimes(settings, passes.RATE, chime_audio, aim_lufs, aim_ceiling)
    item = Spill(work / "item.f32")
    for chunk in assemble.timeline(normalized, passes.RATE, before, after, repeat=settings.repeat,
                                   repeat_gap_s=settings.repeat_gap_s):
        item.append(chunk)
    normalized.close()
    return item


def master_pcm(pcm: Pcm, settings: MasteringSettings = MasteringSettings(), *, chime_audio: Pcm | None = None) -> Pcm:
    """Run the mastering chain on decoded audio; returns mono Pcm at the working rate (24 kHz) at the target
    loudness under the true-peak ceiling, ready to encode. (Work files go to the system temp directory.)"""
    work = Path(tempfile.mkdtemp(prefix="loa-master-"))
    try:
        item = _master(passes.decode_pcm(pcm, work), settings, settings.target_lufs, settings.true_peak_dbtp, work,
                       chime_audio)
        with item:
            return Pcm(item.read(0, len(item)), passes.RATE)
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
    aimed = normalize_loudness(pcm, *_codec_aim(settings))  # the first encode starts from a codec-aware master
    work = store.temp_dir()
    try:
        candidate = Spill(work / "candidate0.f32")
        for lo in range(0, len(aimed.samples), CHUNK):
            candidate.append(aimed.samples[lo:lo + CHUNK])
        del aimed
        return _encode_and_store(candidate, store, settings, speech, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _encode_and_store(candidate: Spill, store: AudioStore, settings: MasteringSettings, speech: Speech | None,
                      work: Path) -> AudioFacts:
    """Encode the item in `candidate` (mastered with the codec's margins), measure the decoded encoding, correct
    and re-encode while it is out of spec, store the best attempt. `work` is removed by the caller."""
    spec = OUTPUT_FORMATS[settings.format]
    target, ceiling = settings.target_lufs, settings.true_peak_dbtp
    best: tuple[float, Path, Loudness, float] | None = None
    for attempt in range(ENCODE_ROUNDS):
        # The true peak comes from ffmpeg's ebur128 in the decoding pass (nearly free), which for Opus runs in
        # the encoder's own process; loudness and range from the running meter on the decoded samples.
        result = encode_attempt((chunk for _, chunk in candidate.chunks()), passes.RATE,
                                work / f"attempt{attempt}.{spec.ext}", settings.format,
                                settings.effective_bitrate_kbps, OUTPUT_RATE, MEASURE_RATE, work,
                                frames=len(candidate))
        loud = Loudness(result.integrated_lufs, result.true_peak_dbtp, result.loudness_range_lu)
        miss = _miss(loud, settings)
        log.debug("encode attempt %d: %.2f LUFS, %.2f dBTP, %.2f LU", attempt, loud.integrated_lufs,
                  loud.true_peak_dbtp, loud.loudness_range_lu)
        if best is None or miss < best[0]:
            best = (miss, result.path, loud, result.duration_s)
        if miss == 0.0 or attempt == ENCODE_ROUNDS - 1:
            result.decoded.close()
            break
        # Where did the codec overshoot? Only now are the decoded encoding's per-block peaks worth their cost.
        # Each retry also pulls down blocks that came near the ceiling (0.3 dB, then 0.6, …): re-encoding
        # moves the codec's noise, so a peak that was just under can come out just over next time.
        # A loudness already close to target is left alone: raising it would push every peak up too.
        measured = loud.integrated_lufs if abs(loud.integrated_lufs - target) > 0.15 else target
        corrected = Spill(work / f"candidate{attempt + 1}.f32")
        for chunk in codec_correction(candidate, result.decoded, passes.RATE, _PEAK_BLOCK_S, measured, target,
                                      ceiling, margin_db=0.3 * (attempt + 1)):
            corrected.append(chunk)
        result.decoded.close()
        candidate.close()
        candidate = corrected
    candidate.close()
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


def master_recording(
    path: str | os.PathLike[str], store: AudioStore, settings: MasteringSettings = MasteringSettings()
) -> AudioFacts:
    """Check, decode, master, encode and store an uploaded recording, chunk by chunk: memory does not grow with
    the recording's length (work files on the store's filesystem do, and are removed). Raises
    content.audio.ingest.IngestError (with a stable `.code`) for a file we refuse; nothing is left behind."""
    work = store.temp_dir()
    try:
        item = _master(passes.decode_upload(path, settings.limits, work), settings, *_codec_aim(settings), work)
        return _encode_and_store(item, store, settings, None, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
    cache_dir: str | os.PathLike[str] | None = None,
    lexicon: Lexicon | None = None,
) -> AudioFacts:
    """Speak `text` with the chosen engine (normalization happens inside synthesize), master and store it."""
    from content.tts.render import synthesize  # imported late: the TTS package loads engines lazily

    speech = synthesize(text, engine=engine, voice=voice, speed=speed, cache_dir=cache_dir, lexicon=lexicon)
    return master_speech(speech, store, settings)


def master_speech(speech: Speech, store: AudioStore, settings: MasteringSettings = MasteringSettings()) -> AudioFacts:
    """Master synthesized speech and store it (the second half of `render_text`)."""
    work = store.temp_dir()
    try:
        item = _master(passes.decode_pcm(_pad_short_speech(speech.pcm), work), settings, *_codec_aim(settings), work)
        return _encode_and_store(item, store, settings, speech, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
