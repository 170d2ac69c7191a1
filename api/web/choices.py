"""What the forms offer: kinds, statuses, languages, engines and voices, with plain labels in both languages.

Labels are message ids (English) translated through the catalog at render time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from loa.languages import KNOWN
from content.library.models import Kind, Status


def N_(message: str) -> str:
    """Marks a message id for extraction; it is translated where it is shown."""
    return message

KIND_LABELS = {Kind.directive.value: N_("Directive"), Kind.guidance.value: N_("Guidance"), Kind.news.value: N_("News"),
               Kind.emergency.value: N_("Emergency"), Kind.chime.value: N_("Chime"), Kind.music.value: N_("Music")}
STATUS_LABELS = {Status.draft.value: N_("Draft"), Status.submitted.value: N_("Waiting for approval"),
                 Status.approved.value: N_("Approved"), Status.rejected.value: N_("Rejected"),
                 Status.archived.value: N_("Archived")}
ENGINE_LABELS = {"auto": N_("Automatic (best available)"), "gtts": N_("Google (needs internet)"),
                 "piper": N_("Piper (offline, natural)"), "espeak": N_("eSpeak (offline, robotic)")}
VOICE_LABELS = {("espeak", "vi"): N_("Northern accent"), ("espeak", "vi-vn-x-central"): N_("Central accent"),
                ("espeak", "vi-vn-x-south"): N_("Southern accent"), ("gtts", "vi"): N_("Vietnamese")}
SPEEDS = (0.8, 0.9, 1.0, 1.1, 1.2)
# Product names, the same in every language (shown next to a voice: "Northern accent (eSpeak)").
ENGINE_NAMES = {"espeak": "eSpeak", "gtts": "Google", "piper": "Piper"}


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str
    label: str  # a message id, or the voice file's own name


def voices(cache_dir: str | None) -> list[Voice]:
    """Every voice of every engine this station has (an unavailable engine still lists its voices: the
    render falls back or reports why)."""
    from content.tts.render import default_registry

    registry = default_registry(cache_dir)
    out: list[Voice] = []
    for name in registry.names():
        try:
            names = registry.get(name).voices()
        except Exception:  # a broken voice directory must not take the page down
            names = []
        out.extend(Voice(name, v, VOICE_LABELS.get((name, v), v)) for v in names)
    return out


def languages() -> list[tuple[str, str, str]]:
    return [(tag, vi, en) for tag, (vi, en) in KNOWN.items()]


def parse_date_end(value: str | None, tz: str) -> datetime | None:
    """A date field (YYYY-MM-DD) as the end of that local day: "expires on the 30th" airs all day on the 30th."""
    if not value:
        return None
    day = date.fromisoformat(value)
    return datetime.combine(day, time(23, 59, 59), ZoneInfo(tz))


def int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
