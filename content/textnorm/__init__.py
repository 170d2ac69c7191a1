"""Vietnamese text normalization for Loa's text-to-speech.

    from content.textnorm import normalize, region_for_voice
    normalize("UBND xã thông báo: 7h30 ngày 15/8/2025 ...", region=region_for_voice("vi-vn-x-south")).text

The abbreviation lexicon is data (lexicon_vi.tsv); a commune extends it with ``Lexicon.load(path)``.
"""

from .lexicon import Lexicon
from .normalize import NormalizedText, normalize, region_for_voice

__all__ = ["Lexicon", "NormalizedText", "normalize", "region_for_voice"]
