"""Word-level passes: lexicon look-ups, web addresses, acronyms, all-capital headings, and the final sweep
that leaves only letters, spaces and commas for the engine.
"""

from __future__ import annotations

import re
from itertools import groupby

from .lexicon import Lexicon, is_vietnamese_syllable, spell_letters
from .numbers import Dialect, integer_string

_CHUNK = re.compile(r"\S+")
_OPENERS = "(\"'["
_CLOSERS = ")\"'],;:!?."

# How the pieces of a web address are said; anything else is spelled or read as a word.
_DOMAIN_PARTS = {
    "www": "vê kép vê kép vê kép", "gov": "gốp", "vn": "vê en", "com": "com", "net": "nét",
    "org": "o rờ giê", "edu": "e đu", "info": "in phô",
}
_DOMAIN = re.compile(
    r"(?:https?://)?(?:[\w\-]+\.)+(?:vn|com|net|org|gov|edu|info)(?:/[\w\-./]*)?", re.I
)
_EMAIL = re.compile(r"([\w.\-]+)@((?:[\w\-]+\.)+(?:vn|com|net|org|gov|edu|info))", re.I)


def _say_host(host: str, lexicon: Lexicon) -> str:
    words = []
    for part in host.split("."):
        if part:
            words.append(lexicon.expand(part) or _DOMAIN_PARTS.get(part.lower()) or part.replace("-", " "))
    return " chấm ".join(words)


def _say_domain(address: str, lexicon: Lexicon) -> str:
    """dichvucong.gov.vn -> dịch vụ công chấm gốp chấm vê en; a path is read after 'gạch chéo'."""
    address = re.sub(r"^https?://", "", address, flags=re.I).rstrip("/")
    host, _, path = address.partition("/")
    spoken = [lexicon.expand(host) or _say_host(host, lexicon)]
    for segment in path.split("/"):
        if segment:
            spoken.append(_say_host(segment, lexicon))
    return " gạch chéo ".join(spoken)


def _say_email(m: re.Match[str], lexicon: Lexicon) -> str:
    return f"{_say_host(m.group(1), lexicon)} a còng {_say_host(m.group(2), lexicon)}"


def lexicon_chunks(text: str, lexicon: Lexicon) -> str:
    """Replace whole space-separated chunks that the lexicon knows, including ones with dots, slashes,
    hyphens or digits (TP.HCM, Đ/c, COVID-19, 4.0, dichvucong.gov.vn). Runs before the number passes."""

    def chunk(m: re.Match[str]) -> str:
        raw = m.group(0)
        core = raw.lstrip(_OPENERS)
        lead = raw[: len(raw) - len(core)]
        stripped = core.rstrip(_CLOSERS)
        trail = core[len(stripped):]
        if not stripped:
            return raw
        if trail.startswith("."):
            found = lexicon.expand(stripped + ".")
            if found is not None:
                return f"{lead}{found}{trail[1:]}"
        found = lexicon.expand(stripped)
        if found is not None:
            return f"{lead}{found}{trail}"
        if "." in stripped and _DOMAIN.fullmatch(stripped):
            return f"{lead}{_say_domain(stripped, lexicon)}{trail}"
        email = _EMAIL.fullmatch(stripped) if "@" in stripped else None
        if email:
            return f"{lead}{_say_email(email, lexicon)}{trail}"
        return raw

    return _CHUNK.sub(chunk, text)


_WORD = re.compile(r"[^\W_]+")


def _kind(ch: str) -> str:
    return "digit" if ch.isdecimal() else "letter" if ch.isalpha() else "other"


def _word(token: str, lexicon: Lexicon, dialect: Dialect) -> str:
    found = lexicon.expand(token)
    if found is not None:
        return found
    if token.isdecimal():
        return integer_string(token, dialect)
    if token.isalpha():
        if token.isupper():
            if is_vietnamese_syllable(token):
                return token.lower()  # a word of an all-capital heading (THÔNG BÁO), or a lone vowel
            return spell_letters(token)
        return token
    # letters and digits mixed (H5N1, F0): each run on its own; other numerics (², ½, Ⅳ) are dropped
    runs = ("".join(group) for kind, group in groupby(token, key=_kind) if kind != "other")
    return " ".join(_word(run, lexicon, dialect) for run in runs)


def words(text: str, lexicon: Lexicon, dialect: Dialect) -> str:
    """Expand every remaining word: lexicon, then acronym spelling, heading words lowered."""
    return _WORD.sub(lambda m: _word(m.group(0), lexicon, dialect), text)


_SYMBOLS = {
    "&": " và ", "@": " a còng ", "%": " phần trăm ", "+": " cộng ", "=": " bằng ", ">": " lớn hơn ",
    "<": " nhỏ hơn ", "≥": " lớn hơn hoặc bằng ", "≤": " nhỏ hơn hoặc bằng ", "~": " khoảng ",
    "±": " cộng trừ ", "№": " số ",
}
_SYMBOL = re.compile("|".join(re.escape(s) for s in _SYMBOLS))
_PAUSE = re.compile(r"\s+-+\s+|[()\[\]{}:;!?]|\.\.\.+")
_OTHER = re.compile(r"[^\w\s,]|_")
_COMMAS = re.compile(r"\s*,[\s,]*")
_SPACE = re.compile(r"\s+")


def symbols(text: str) -> str:
    """Read the symbols that have a spoken form, turn brackets, dashes between spaces and colons into
    pauses (commas), and drop every other non-letter character."""
    text = _SYMBOL.sub(lambda m: _SYMBOLS[m.group(0)], text)
    text = _PAUSE.sub(", ", text)
    text = _OTHER.sub(" ", text)
    text = _COMMAS.sub(", ", text)
    text = _SPACE.sub(" ", text)
    return text.strip(" ,")
