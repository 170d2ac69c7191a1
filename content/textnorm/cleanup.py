"""First pass over raw input: Unicode NFC, invisible and pictographic characters out, one kind of each
punctuation mark, list markers at line starts dropped.

Texts reach the station from phones (often NFD), Word (smart quotes, non-breaking spaces, soft hyphens) and
chat apps (emoji); none of that must reach a speech engine.
"""

from __future__ import annotations

import re
import unicodedata

# Symbols (category So/Sk) that carry meaning and are read later instead of being dropped.
_KEEP_SYMBOLS = frozenset("°%&@+=<>~№")
# Marks that belong to emoji sequences rather than to letters: variation selectors, keycap, skin tones.
_EMOJI_MARKS = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), 0x20E3))

_PUNCT_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2044": "/", "\uff0c": ",", "\uff0e": ".", "\uff1a": ":", "\uff1b": ";",
    "\u00d7": " nhân ",
}


def _keep(ch: str) -> str:
    """What a single character becomes: itself, a replacement, a space or nothing."""
    if ch in _PUNCT_MAP:
        return _PUNCT_MAP[ch]
    if ch == "\n":
        return ch
    if ch in _EMOJI_MARKS:
        return ""
    cat = unicodedata.category(ch)
    if cat == "Zs" or ch in "\t\r\v\f\u2028\u2029\x85":
        return "\n" if ch in "\u2028\u2029\x85" else " "
    if cat in ("Cc", "Cf", "Co", "Cs", "Cn"):
        return ""  # control, zero-width (ZWSP, ZWJ, BOM, soft hyphen, bidi marks), private use
    if cat in ("So", "Sk") and ch not in _KEEP_SYMBOLS:
        return " "  # emoji and pictographs: a space so the words around them stay apart
    return ch


def strip_invisible(text: str) -> str:
    """NFC-normalise and drop emoji, control and zero-width characters. Newlines are kept."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n")
    cache: dict[str, str] = {}
    out = []
    for ch in text:
        if ch.isalnum() or ch in " .,\n":  # the common case, no table lookup
            out.append(ch)
            continue
        mapped = cache.get(ch)
        if mapped is None:
            mapped = cache[ch] = _keep(ch)
        out.append(mapped)
    # NFC again: dropping a stray mark can leave a base letter and a combining tone side by side
    return unicodedata.normalize("NFC", "".join(out))


# Bullets, dashes and list numbering at the start of a line ("- ", "• ", "a) ", "1. ", "1.2. ", "II. ").
# A number followed by more digits ("1.500 người") is not a marker: markers end in . or ) and a space.
_LINE_MARKER = re.compile(
    r"^[ \t]*(?:[-*+>»→]+(?:[ \t]+|(?=[^\W\d_]))|[•●▪■◦·]+[ \t]*|\(?[a-zđ]\)[ \t]+|\(?\d{1,2}(?:\.\d{1,2})*[.)][ \t]+"
    r"|[IVX]{1,5}[.)][ \t]+)",
    re.MULTILINE,
)
_SPACES = re.compile(r"[ \t]+")


def drop_line_markers(text: str) -> str:
    return _LINE_MARKER.sub("", text)


def clean(text: str) -> str:
    """strip_invisible + line markers dropped + runs of spaces collapsed (newlines kept for splitting)."""
    text = strip_invisible(text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return drop_line_markers(text)
