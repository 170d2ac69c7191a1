"""Languages of announcements: BCP 47 tags with a display name (Vietnamese first, English second).

Ethnic-minority languages of the northern mountains and the central highlands arrive as recordings (no TTS
exists for them). Any well-formed tag is accepted; the ones below get a readable name."""
from __future__ import annotations

import re

from loa.errors import Invalid

# tag → (Vietnamese name, English name)
KNOWN: dict[str, tuple[str, str]] = {
    "vi": ("Tiếng Việt", "Vietnamese"),
    "hnj": ("Tiếng Mông (Mông Lềnh/Njua)", "Hmong Njua"),
    "blu": ("Tiếng Mông (mã cũ blu)", "Hmong Njua (retired code blu)"),
    "mww": ("Tiếng Mông Trắng", "White Hmong"),
    "tyz": ("Tiếng Tày", "Tày"),
    "pcc": ("Tiếng Giáy", "Giáy (Bouyei)"),
    "ium": ("Tiếng Dao", "Iu Mien (Dao)"),
    "nut": ("Tiếng Nùng", "Nùng"),
    "blt": ("Tiếng Thái Đen", "Black Tai"),
    "pac": ("Tiếng Pa Cô", "Pacoh (Pa Cô)"),
    "bru": ("Tiếng Vân Kiều", "Bru (Vân Kiều)"),
    "en": ("Tiếng Anh", "English"),
}

_TAG_RE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z]{4})?(-([a-zA-Z]{2}|[0-9]{3}))?(-[a-zA-Z0-9]{5,8}|-[0-9][a-zA-Z0-9]{3})*$")


def normalize_tag(tag: str) -> str:
    """Canonical case (language lower, script title, region upper) or 422 for a malformed tag."""
    tag = (tag or "").strip().replace("_", "-")
    if not _TAG_RE.match(tag):
        raise Invalid("language_invalid", "Mã ngôn ngữ không hợp lệ (dạng BCP 47, ví dụ vi, hnj, tyz)",
                      "Malformed language tag (BCP 47, e.g. vi, hnj, tyz)")
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def display_name(tag: str, lang: str = "vi") -> str:
    names = KNOWN.get(tag) or KNOWN.get(tag.split("-")[0].lower())
    if names is None:
        return tag
    return names[0] if lang == "vi" else names[1]
