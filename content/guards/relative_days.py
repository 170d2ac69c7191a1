"""Words that name a day relative to today ("sáng mai", "tối nay", "tuần sau"): true the day the text was written,
false every day after. A text that contains one and repeats with no end date tells listeners the wrong day.

Matching is on whole words, case-insensitive. A text typed without diacritics (common on phones) is matched
without diacritics too ("sang mai" is "sáng mai"); a text written with diacritics is matched exactly, so the
name "Mai" after "sang" ("sang Mai", to Mai's) is not taken for "sáng mai"."""
from __future__ import annotations

import re
import unicodedata

# Longest first, so "sáng mai" is reported rather than a shorter word inside it.
PHRASES: tuple[str, ...] = (
    "sáng ngày mai", "chiều ngày mai", "tối ngày mai", "tuần tới", "tuần sau", "tuần này", "tháng tới",
    "tháng sau", "tháng này", "năm tới", "năm sau", "hôm nay", "ngày mai", "ngày mốt", "ngày kia", "hôm qua",
    "sáng nay", "trưa nay", "chiều nay", "tối nay", "đêm nay", "sáng mai", "trưa mai", "chiều mai", "tối mai",
    "đêm mai", "mai này", "sáng mốt", "chiều mốt", "tối mốt", "cuối tuần này", "cuối tuần sau", "thứ hai tới",
    "chủ nhật này", "chủ nhật tới", "hôm kia", "bữa nay", "bữa mai",
)
_ACCENTED_SHARE = 0.05  # below this share of letters with a diacritic, a text counts as typed without them


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def typed_without_diacritics(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    accented = sum(1 for c in letters if strip_diacritics(c) != c)
    return accented / len(letters) < _ACCENTED_SHARE


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(set(phrases), key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
    return re.compile(rf"(?<!\w)({body})(?!\w)", re.IGNORECASE)


_EXACT = _pattern(PHRASES)
_PLAIN = _pattern(tuple(strip_diacritics(p) for p in PHRASES))


def relative_day_words(text: str | None) -> list[str]:
    """The relative-day phrases in `text`, as written there, each once, in order of appearance."""
    if not text:
        return []
    text = unicodedata.normalize("NFC", text)
    if typed_without_diacritics(text):
        plain = strip_diacritics(text)
        same_length = len(plain) == len(text)  # then a match's span is the same in the original text
        found = [text[m.start():m.end()] if same_length else m.group(0) for m in _PLAIN.finditer(plain)]
    else:
        found = [m.group(0) for m in _EXACT.finditer(text)]
    out: list[str] = []
    for phrase in found:
        phrase = " ".join(phrase.split())
        if phrase.lower() not in (p.lower() for p in out):
            out.append(phrase)
    return out


def stale_words_warning(texts: list[str | None], repeats: bool, has_end: bool) -> list[str]:
    """The phrases to warn about when a schedule repeats with no last day; nothing otherwise."""
    if not repeats or has_end:
        return []
    out: list[str] = []
    for text in texts:
        for phrase in relative_day_words(text):
            if phrase.lower() not in (p.lower() for p in out):
                out.append(phrase)
    return out
