"""The abbreviation lexicon (data, not code) and spelling of unknown acronyms with Vietnamese letter names.

File format (UTF-8, one entry a line): ``token<TAB>expansion``; blank lines and lines starting with ``#`` are
ignored. Later files override earlier entries, so a commune's own TSV (``Lexicon.load(path)``) can correct the
built-in pronunciation of any token.

Lookup: exact match first. Keys that are not all capitals ("Zalo", "VNeID", "dichvucong.gov.vn") also match
case-insensitively, so "ZALO" or "zalo" work; all-capital keys ("CA" = công an) match only exactly, so the
ordinary word "ca" is never expanded.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

BUILTIN_PATH = Path(__file__).with_name("lexicon_vi.tsv")

# Vietnamese names of letters, used to spell unknown all-capital acronyms (UBKTX -> u bê ca tê ích xì).
# Written with spaces instead of the dictionary hyphens (e-lờ) so no engine reads the hyphen aloud.
LETTER_NAMES = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "Ê": "ê",
    "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "di", "K": "ca", "L": "e lờ", "M": "em mờ",
    "N": "en nờ", "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "e rờ", "S": "ét xì",
    "T": "tê", "U": "u", "Ư": "ư", "V": "vê", "W": "vê kép", "X": "ích xì", "Y": "i dài", "Z": "dét",
}

_VOWELS = "aăâeêioôơuưy"
_VOWEL_CHARS = "".join(
    sorted({unicodedata.normalize("NFC", v + mark) for v in _VOWELS for mark in ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")})
)
# One Vietnamese syllable: optional onset, 1-3 vowels, optional coda. Used to tell an all-capital heading
# word (THÔNG BÁO -> thông báo) from an acronym to be spelled (THPT).
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    rf"[{_VOWEL_CHARS}]{{1,3}}"
    r"(?:ng|nh|ch|[cmnpt])?"
)


def is_vietnamese_syllable(word: str) -> bool:
    return _SYLLABLE.fullmatch(word.lower()) is not None


def spell_letters(word: str) -> str:
    """Spell with Vietnamese letter names; characters without a name are kept as they are."""
    return " ".join(LETTER_NAMES.get(c.upper(), c) for c in word)


def _is_all_caps(key: str) -> bool:
    letters = [c for c in key if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


class Lexicon:
    """Token -> spoken expansion. Build with ``Lexicon.load(*extra_paths)``."""

    def __init__(self, entries: dict[str, str] | None = None) -> None:
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        for token, expansion in (entries or {}).items():
            self._add(token, expansion)

    def _add(self, token: str, expansion: str) -> None:
        token = unicodedata.normalize("NFC", token)
        expansion = unicodedata.normalize("NFC", expansion)
        self._exact[token] = expansion
        if not _is_all_caps(token):
            self._folded[token.casefold()] = expansion

    @classmethod
    def load(cls, *extra_paths: str | os.PathLike[str]) -> "Lexicon":
        """The built-in lexicon plus commune extension files, later files overriding earlier ones."""
        lexicon = cls()
        lexicon._exact.update(_builtin_entries()[0])
        lexicon._folded.update(_builtin_entries()[1])
        for path in extra_paths:
            for token, expansion in read_tsv(path):
                lexicon._add(token, expansion)
        return lexicon

    def expand(self, token: str) -> str | None:
        """The spoken form of `token`, or None when the lexicon does not know it."""
        token = unicodedata.normalize("NFC", token)
        found = self._exact.get(token)
        if found is None:
            found = self._folded.get(token.casefold())
        return found

    def __contains__(self, token: str) -> bool:
        return self.expand(token) is not None

    def __len__(self) -> int:
        return len(self._exact)

    def keys(self) -> list[str]:
        return list(self._exact)


def read_tsv(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Parse one lexicon file. A malformed line raises ValueError naming the file and the line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: Windows editors put a BOM first
    except FileNotFoundError:
        raise FileNotFoundError(f"Không tìm thấy tệp từ điển / Lexicon file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: tệp từ điển không phải UTF-8 / lexicon file is not UTF-8 ({exc})"
        ) from exc
    entries: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        token = parts[0].strip()
        expansion = parts[1].strip() if len(parts) == 2 else ""
        if len(parts) != 2 or not token or not expansion or any(c.isspace() for c in token):
            raise ValueError(
                f"{path}:{number}: dòng từ điển sai, cần 'từ<TAB>cách đọc' / "
                f"malformed lexicon line, expected 'token<TAB>expansion': {line!r}"
            )
        entries.append((token, expansion))
    return entries


@lru_cache(maxsize=1)
def _builtin_entries() -> tuple[dict[str, str], dict[str, str]]:
    # Cached: the built-in file is read once per process; extension files are read on every load().
    lexicon = Lexicon()
    for token, expansion in read_tsv(BUILTIN_PATH):
        lexicon._add(token, expansion)
    return dict(lexicon._exact), dict(lexicon._folded)


@lru_cache(maxsize=1)
def builtin_lexicon() -> Lexicon:
    return Lexicon.load()
