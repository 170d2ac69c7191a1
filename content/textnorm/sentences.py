"""Sentence splitting before expansion, and splitting of over-long sentences after it.

A sentence ends at . ! ? ; or ... followed by a space or the end of a line, and at every newline. A dot inside
a token never ends one (1.279, 15.8.2025, dichvucong.gov.vn), nor does the dot of a known abbreviation
("TP. Lào Cai", "v.v. và").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SENTENCE_CHARS = 400

# Abbreviations whose final dot is not a full stop. Lexicon keys ending in "." are added by the caller.
ABBREVIATIONS = frozenset(
    {"TP.", "Tp.", "tp.", "TX.", "Tx.", "ThS.", "Ths.", "TS.", "PGS.", "GS.", "BS.", "KS.", "v.v.", "St."}
)

_END = re.compile(r"(?:\.\.\.+|[.!?;])+[\"')\]]*(?=\s|$)")
_TRAILING = re.compile(r"[\s.,;:!?\-]+$")
_LEADING = re.compile(r"^(?:[\s.,;:!?]|-(?!\d))+")  # "-2°C" keeps its minus


def _tidy(sentence: str) -> str:
    return _LEADING.sub("", _TRAILING.sub("", sentence))


def _next_char(line: str, pos: int) -> str:
    """The first non-space character at or after pos (a bounded scan, not a slice of the whole rest)."""
    while pos < len(line) and line[pos].isspace():
        pos += 1
    return line[pos] if pos < len(line) else ""


def split_sentences(text: str, abbreviations: Iterable[str] = ABBREVIATIONS) -> list[str]:
    """Split cleaned text (see cleanup.clean) into sentences; empty pieces are dropped."""
    abbrev = abbreviations if isinstance(abbreviations, (set, frozenset)) else frozenset(abbreviations)
    out: list[str] = []
    for line in text.split("\n"):
        start = 0
        for m in _END.finditer(line):
            if m.group().startswith(".") and len(m.group()) == 1:
                token_start = line.rfind(" ", 0, m.start()) + 1
                token = line[token_start:m.end()]
                following = _next_char(line, m.end())
                # "v.v." often closes a sentence: it ends one when a capital letter follows
                if token in abbrev and not (token == "v.v." and following.isupper()):
                    continue
            piece = _tidy(line[start:m.end()])
            if piece:
                out.append(piece)
            start = m.end()
        piece = _tidy(line[start:])
        if piece:
            out.append(piece)
    return out


def split_long(sentence: str, limit: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Cut a sentence longer than `limit` at commas into pieces of at most `limit` characters where the
    commas allow it; a comma-less stretch longer than `limit` is cut at the last space before the limit."""
    if len(sentence) <= limit:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for part in (p.strip() for p in sentence.split(",")):
        if not part:
            continue
        if current and len(current) + 2 + len(part) > limit:
            pieces.append(current)
            current = ""
        current = f"{current}, {part}" if current else part
        while len(current) > limit:
            cut = current.rfind(" ", 0, limit + 1)
            if cut <= 0:
                cut = limit
            pieces.append(current[:cut].strip())
            current = current[cut:].strip()
    if current:
        pieces.append(current)
    return [p for p in pieces if p]
