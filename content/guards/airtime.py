"""How long a typed text will last on air, estimated before it is rendered.

The estimate counts the syllables the engine will be given (the normalizer's output: "7h30" is already "bảy giờ
ba mươi phút") and divides by a speaking rate measured on real renders: the eleven texts of the guidance pack
(content/packs/huong-dan-2026, ~200 syllables each) rendered by eSpeak at 1.0× gave 233-256 syllables a minute,
sentence pauses included (mean 248). The rate is rounded down to 240 so the estimate errs on the long side; a
faster or slower speed divides it. A Vietnamese syllable is one written word, so counting words is counting
syllables."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SYLLABLES_PER_MINUTE = 240.0
LONG_S = 5 * 60  # past this a text gets a warning: few people listen to a loudspeaker for longer


@dataclass(frozen=True, slots=True)
class Airtime:
    seconds: float
    long: bool       # past LONG_S: warn, still allowed
    over: bool       # past the station's longest programme: refused


def spoken_syllables(sentences: Iterable[str]) -> int:
    return sum(len(s.split()) for s in sentences)


def estimate_seconds(sentences: Iterable[str], speed: float = 1.0) -> float:
    """Seconds on air for these normalized sentences at `speed` (1.0 = normal, 1.2 = faster)."""
    speed = speed if speed > 0 else 1.0
    return spoken_syllables(sentences) / SYLLABLES_PER_MINUTE * 60.0 / speed


def airtime(sentences: Iterable[str], speed: float, limit_s: float) -> Airtime:
    seconds = estimate_seconds(sentences, speed)
    return Airtime(seconds=seconds, long=seconds > LONG_S, over=seconds > limit_s)


def minutes_and_seconds(seconds: float) -> tuple[int, int]:
    """Rounded to the next 10 seconds: an estimate shown as "3 min 20 s", not a false "3 min 17 s"."""
    total = int(-(-seconds // 10) * 10)
    return total // 60, total % 60
