"""Money, percentages, units, ordinals, Roman numerals, ranges and finally every remaining number.

Units are only expanded right after a number ("5 ha" -> năm héc ta) so ordinary words are never touched.
"""

from __future__ import annotations

import re

from .numbers import Dialect, cardinal, ordinal, read_number, roman_to_int

# A written number: grouped (1.500.000), with a decimal comma (51,4), an English decimal (51.4) or plain.
NUM = r"\d+(?:\.\d+)*(?:,\d+)?"
_L = r"(?<![\w.,/])"
_R = r"(?![\w²³]|[.,]\d)"
_RANGE_SEP = r"\s*(?:-|đến|tới)\s*"
# A number, or a range of two numbers ("3-5").
_NUMR = rf"(-?{NUM})(?:{_RANGE_SEP}({NUM}))?"

UNITS = {
    "km²": "ki lô mét vuông", "km2": "ki lô mét vuông", "m²": "mét vuông", "m2": "mét vuông",
    "m³": "mét khối", "m3": "mét khối", "cm": "xăng ti mét", "mm": "mi li mét", "km": "ki lô mét",
    "m": "mét", "ha": "héc ta", "kg": "ki lô gam", "g": "gam", "mg": "mi li gam", "ml": "mi li lít",
    "l": "lít", "L": "lít", "°C": "độ xê", "° C": "độ xê", "oC": "độ xê", "độ C": "độ xê", "°": "độ",
    "kWh": "ki lô oát giờ", "kW": "ki lô oát", "MW": "mê ga oát", "W": "oát", "kV": "ki lô vôn",
    "V": "vôn", "MHz": "mê ga héc", "Hz": "héc", "GB": "gi ga bai", "MB": "mê ga bai",
    "h": "giờ", "s": "giây", "ppm": "pê pê em", "cc": "phân khối",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# Words that may follow a slash after a quantity: "50.000 đồng/người", "6 tấn/ha".
_PER = rf"(?:\s*/\s*((?:{_UNIT_ALT})(?![\w²³])|[^\W\d_]+))?"


def _per(word: str | None, money: bool) -> str:
    """The part after '/': after money it is 'một ...' (đồng/người -> đồng một người, đồng/kg -> đồng một
    ki lô gam), which is how announcers say prices; after a unit it is 'trên' (km/h -> ki lô mét trên giờ)."""
    if not word:
        return ""
    spoken = UNITS.get(word, word)
    return f" một {spoken}" if money else f" trên {spoken}"


def _amount(m: re.Match[str], dialect: Dialect) -> str:
    first = read_number(m.group(1), dialect)
    return f"{first} đến {read_number(m.group(2), dialect)}" if m.group(2) else first


_SCALE = r"(?:\s*(triệu|tỷ|tỉ|nghìn|ngàn|trăm))?"
_MONEY = re.compile(_L + _NUMR + _SCALE + r"\s*(đồng|VNĐ|VND|vnđ|vnd|đ|Đ)(?![\w])" + _PER)
_THOUSANDS = re.compile(_L + _NUMR + r"\s?[kK](?![\w])")
_USD = re.compile(_L + r"(?:\$\s*" + _NUMR + _SCALE + "|" + _NUMR + _SCALE + r"\s*(?:USD|\$))(?![\w])")
_PERCENT = re.compile(_L + _NUMR + r"\s*%")
_UNIT = re.compile(_L + _NUMR + rf"\s?({_UNIT_ALT})(?![\w²³])" + _PER)
# "20°C - 25°C", "3% - 5%": the unit written on both ends of a range.
_UNIT_RANGE = re.compile(_L + rf"(-?{NUM})\s?({_UNIT_ALT}|%)\s*(?:-|đến|tới)\s*(-?{NUM})\s?\2(?![\w²³])")
_BARE_PER_UNIT = re.compile(rf"(?<=[^\W\d_])\s*/\s*({_UNIT_ALT})(?![\w²³])")


def quantities(text: str, dialect: Dialect) -> str:
    def money(m: re.Match[str]) -> str:
        scale = f" {m.group(3)}" if m.group(3) else ""
        return f"{_amount(m, dialect)}{scale} đồng{_per(m.group(5), money=True)}"

    def usd(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            amount = _amount(m, dialect)
            scale = m.group(3)
        else:
            amount = read_number(m.group(4), dialect)
            if m.group(5):
                amount += f" đến {read_number(m.group(5), dialect)}"
            scale = m.group(6)
        return f"{amount}{' ' + scale if scale else ''} đô la"

    def unit(m: re.Match[str]) -> str:
        return f"{_amount(m, dialect)} {UNITS[m.group(3)]}{_per(m.group(4), money=False)}"

    def unit_range(m: re.Match[str]) -> str:
        said = "phần trăm" if m.group(2) == "%" else UNITS[m.group(2)]
        return f"{read_number(m.group(1), dialect)} đến {read_number(m.group(3), dialect)} {said}"

    text = _UNIT_RANGE.sub(unit_range, text)
    text = _MONEY.sub(money, text)
    text = _USD.sub(usd, text)
    text = _THOUSANDS.sub(lambda m: f"{_amount(m, dialect)} {dialect.thousand}", text)
    text = _PERCENT.sub(lambda m: f"{_amount(m, dialect)} phần trăm", text)
    text = _UNIT.sub(unit, text)
    return _BARE_PER_UNIT.sub(lambda m: f" trên {UNITS[m.group(1)]}", text)


# --- ordinals, Roman numerals, numbered sections --------------------------------------------------------------

_ORDINAL = re.compile(r"(?i:\b(thứ))\s+(\d{1,3})" + _R)
_ROMAN_AFTER = re.compile(
    r"(?i:\b(khóa|khoá|quý|đại hội|thế kỷ|thế kỉ|kỳ|kì|phần|chương|mục|lần thứ|thứ|hạng|cấp|giai đoạn))"
    r"\s+([IVXLC]{1,7})(?![\w])"
)
_SECTION = re.compile(r"(?i:\b(điều|khoản|mục|điểm|chương|phần|tiểu mục|bước))\s+(\d+(?:\.\d+)+)" + _R)


def ordinals(text: str, dialect: Dialect) -> str:
    def roman(m: re.Match[str]) -> str:
        value = roman_to_int(m.group(2))
        if value is None:
            return m.group(0)
        keyword = m.group(1)
        spoken = ordinal(value, dialect) if keyword.lower().endswith("thứ") else cardinal(value, dialect)
        return f"{keyword} {spoken}"

    def section(m: re.Match[str]) -> str:
        parts = m.group(2).split(".")
        return f"{m.group(1)} " + " chấm ".join(cardinal(int(p), dialect) for p in parts)

    text = _ORDINAL.sub(lambda m: f"{m.group(1)} {ordinal(int(m.group(2)), dialect)}", text)
    text = _ROMAN_AFTER.sub(roman, text)
    return _SECTION.sub(section, text)


# --- ranges, slashes and every remaining number ---------------------------------------------------------------

_RANGE = re.compile(_L + rf"({NUM})\s*-\s*({NUM})" + _R)
_SLASH_AFTER_NUMBER = re.compile(r"(?<=\d)\s*/\s*(?=[\dA-ZĐ])")
_NEGATIVE = re.compile(rf"(?<![^\s(])-({NUM})" + _R)
_NUMBER = re.compile(rf"(?<![\w.,]){NUM}(?![\w]|[.,]\d)")


def numbers(text: str, dialect: Dialect) -> str:
    text = _RANGE.sub(
        lambda m: f"{read_number(m.group(1), dialect)} đến {read_number(m.group(2), dialect)}", text
    )
    # fractions and document numbers: 1.070/1.099 -> ... trên ..., 39/2020/TT-BTTTT -> ... trên ... trên ...
    text = _SLASH_AFTER_NUMBER.sub(" trên ", text)
    text = _NEGATIVE.sub(lambda m: "âm " + read_number(m.group(1), dialect), text)
    return _NUMBER.sub(lambda m: read_number(m.group(0), dialect), text)
