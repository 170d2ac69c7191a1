"""The pipeline: clean -> split into sentences -> expand each sentence -> cut over-long sentences.

Order matters: whole lexicon chunks first (they may contain digits: 4.0, COVID-19, 24/7), then the digit
patterns from the most specific (phone numbers, dates, times) to the least (plain numbers), then words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import rules_quantity, rules_time, tokens
from .cleanup import clean
from .lexicon import Lexicon, builtin_lexicon
from .numbers import Dialect, dialect_for
from .sentences import ABBREVIATIONS, MAX_SENTENCE_CHARS, split_long, split_sentences


@dataclass(frozen=True)
class NormalizedText:
    """Speakable sentences: letters, spaces and commas only, none empty, no trailing punctuation."""

    sentences: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return ". ".join(self.sentences)


def region_for_voice(voice: str | None) -> str:
    """'north' or 'south' for an engine voice name: vi-vn-x-south -> south; vi, vi-vn-x-central, None -> north
    (central speakers read numbers the northern way: nghìn, linh)."""
    if voice and "south" in voice.lower():
        return "south"
    return "north"


def normalize_sentence(sentence: str, dialect: Dialect, lexicon: Lexicon) -> str:
    s = tokens.lexicon_chunks(sentence, lexicon)
    s = rules_time.phones(s)
    s = rules_time.dates(s, dialect)
    s = rules_time.times(s, dialect)
    s = rules_quantity.quantities(s, dialect)
    s = rules_quantity.ordinals(s, dialect)
    s = rules_quantity.numbers(s, dialect)
    s = tokens.words(s, lexicon, dialect)
    return tokens.symbols(s)


def _abbreviations(lexicon: Lexicon) -> frozenset[str]:
    return ABBREVIATIONS | frozenset(k for k in lexicon.keys() if k.endswith(".") and " " not in k)


def normalize(text: str, region: str = "north", lexicon: Lexicon | None = None) -> NormalizedText:
    """Turn a written directive into sentences a Vietnamese speaker would say."""
    dialect = dialect_for(region)
    lexicon = lexicon if lexicon is not None else builtin_lexicon()
    out: list[str] = []
    for raw in split_sentences(clean(text), _abbreviations(lexicon)):
        spoken = normalize_sentence(raw, dialect, lexicon)
        if spoken:
            out.extend(split_long(spoken, MAX_SENTENCE_CHARS))
    return NormalizedText(sentences=out)
