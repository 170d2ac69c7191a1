"""Vietnamese number reading: cardinals, decimals, digit strings, ordinals, Roman numerals.

Rules implemented (the ones a listener notices when they are wrong):
- 10 is "mười", 20..90 use "mươi" ("hai mươi").
- After "mươi" (tens >= 2) a unit 1 is "mốt" and a unit 4 is "tư"; after "mười"/"mươi" a unit 5 is "lăm".
- A zero tens digit before a non-zero unit is "linh" (north) or "lẻ" (south): 105 -> một trăm linh năm.
- Groups of three: nghìn (north) / ngàn (south), triệu, tỷ; a non-leading group below 100 gets "không trăm"
  (1.005 -> một nghìn không trăm linh năm); all-zero groups are skipped (1.000.500 -> một triệu năm trăm).
"""

from __future__ import annotations

from dataclasses import dataclass

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


@dataclass(frozen=True)
class Dialect:
    """The words that differ between northern and southern speech."""

    thousand: str
    zero_tens: str


NORTH = Dialect(thousand="nghìn", zero_tens="linh")
SOUTH = Dialect(thousand="ngàn", zero_tens="lẻ")
DIALECTS = {"north": NORTH, "south": SOUTH}


def dialect_for(region: str) -> Dialect:
    try:
        return DIALECTS[region]
    except KeyError:
        raise ValueError(
            f"Vùng không hợp lệ: {region!r} (chỉ 'north' hoặc 'south') / "
            f"Unknown region {region!r} (use 'north' or 'south')"
        ) from None


def _tens_and_units(tens: int, units: int, dialect: Dialect, after_hundreds: bool) -> list[str]:
    words: list[str] = []
    if tens == 0:
        if units == 0:
            return words
        if after_hundreds:
            words.append(dialect.zero_tens)
        words.append(DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 4 and tens >= 2:
        words.append("tư")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _group(n: int, dialect: Dialect, full: bool) -> list[str]:
    """Read 0 < n < 1000. `full` reads a non-leading group in full ("không trăm linh năm")."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    words += _tens_and_units(tens, units, dialect, after_hundreds=bool(words))
    return words


def _below_billion(n: int, dialect: Dialect, leading: bool) -> list[str]:
    scales = ((1_000_000, "triệu"), (1_000, dialect.thousand), (1, ""))
    words: list[str] = []
    for size, name in scales:
        part, n = divmod(n, size)
        if part == 0:
            continue
        words += _group(part, dialect, full=bool(words) or not leading)
        if name:
            words.append(name)
    return words


def _cardinal_words(n: int, dialect: Dialect, leading: bool = True) -> list[str]:
    if n >= 1_000_000_000:
        billions, rest = divmod(n, 1_000_000_000)
        words = _cardinal_words(billions, dialect, leading) + ["tỷ"]
        if rest:
            words += _below_billion(rest, dialect, leading=False)
        return words
    return _below_billion(n, dialect, leading)


def cardinal(n: int, dialect: Dialect = NORTH) -> str:
    """123 -> 'một trăm hai mươi ba'. Negative numbers are read with 'âm'."""
    if n < 0:
        return "âm " + cardinal(-n, dialect)
    if n == 0:
        return "không"
    return " ".join(_cardinal_words(n, dialect))


def digits(s: str) -> str:
    """Read a digit string one digit at a time ('0912' -> 'không chín một hai')."""
    return " ".join(DIGITS[int(c)] for c in s if c.isdecimal())


def integer_string(s: str, dialect: Dialect = NORTH) -> str:
    """Read an integer written without grouping. Codes with a leading zero (4+ digits) and very long
    strings are read digit by digit, because nobody says them as one number."""
    s = s.strip()
    if (len(s) >= 4 and s[0] == "0") or len(s) > 15:
        return digits(s)
    return cardinal(int(s), dialect)


def fraction_part(s: str, dialect: Dialect = NORTH) -> str:
    """The part after the decimal comma: '4' -> bốn, '29' -> hai mươi chín, '05' -> không năm,
    long parts digit by digit (how Vietnamese speakers read them)."""
    if len(s) > 3:
        return digits(s)
    stripped = s.lstrip("0")
    zeros = len(s) - len(stripped)
    words = ["không"] * zeros
    if stripped:
        words.append(cardinal(int(stripped), dialect))
    return " ".join(words)


def decimal(integer: str, frac: str | None, dialect: Dialect = NORTH) -> str:
    """integer may contain Vietnamese grouping dots ('1.500'); frac is the part after the comma."""
    whole = integer_string(integer.replace(".", ""), dialect)
    if frac is None or frac == "":
        return whole
    return f"{whole} phẩy {fraction_part(frac, dialect)}"


def ordinal(n: int, dialect: Dialect = NORTH) -> str:
    """The word after 'thứ': 1 -> nhất, 4 -> tư, otherwise the cardinal (thứ hai, thứ mười bốn)."""
    if n == 1:
        return "nhất"
    if n == 4:
        return "tư"
    return cardinal(n, dialect)


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(s: str) -> int | None:
    """Strict Roman numeral parse; None unless `s` is the canonical spelling (so 'IIII' or 'VX' fail)."""
    if not s or any(c not in _ROMAN for c in s):
        return None
    total = 0
    for i, c in enumerate(s):
        value = _ROMAN[c]
        if i + 1 < len(s) and _ROMAN[s[i + 1]] > value:
            total -= value
        else:
            total += value
    if total <= 0 or int_to_roman(total) != s:
        return None
    return total


def int_to_roman(n: int) -> str:
    table = (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    )
    out = []
    for value, sym in table:
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def read_number(token: str, dialect: Dialect = NORTH) -> str:
    """Read one written number as it appears in Vietnamese text:
    '1.279' (grouping dots) -> một nghìn hai trăm bảy mươi chín; '51,4' (decimal comma) -> năm mươi mốt
    phẩy bốn; '51.4' (an English decimal: one dot, not three digits after it) -> năm mươi mốt phẩy bốn;
    '3.2.1' (section or version numbers) -> ba chấm hai chấm một; a leading '-' is 'âm'."""
    if token.startswith("-"):
        return "âm " + read_number(token[1:], dialect)
    integer, _, frac = token.partition(",")
    parts = integer.split(".")
    if len(parts) == 1:
        return decimal(integer, frac, dialect)
    if all(len(p) == 3 for p in parts[1:]) and 1 <= len(parts[0]) <= 3:
        return decimal(integer, frac, dialect)
    if len(parts) == 2 and not frac:
        return decimal(parts[0], parts[1], dialect)
    words = " chấm ".join(integer_string(p, dialect) for p in parts if p)
    return f"{words} phẩy {fraction_part(frac, dialect)}" if frac else words
