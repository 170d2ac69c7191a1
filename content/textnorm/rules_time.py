"""Phone numbers, dates and times: the digit patterns that must be recognised before plain numbers.

Every pattern is anchored by lookarounds on word characters and contains no nested unbounded repetition, so
each pass is linear in the length of the sentence.
"""

from __future__ import annotations

import re

from .numbers import Dialect, cardinal, digits

_L = r"(?<![\w.,/])"         # a number does not start inside another token
_R = r"(?![\w/]|[.,]\d)"     # ... nor end inside one

# --- phone numbers -------------------------------------------------------------------------------------------

_PHONE = re.compile(_L + r"(\+84|0)[ .\-]?(\d{1,4}(?:[ .\-]?\d{2,4}){1,4})(?![\w]|[.,]\d)")
# 1900/1800 service numbers; no hyphen, because "1800-2000" is far more often a range
_SERVICE = re.compile(_L + r"(1[89]00)([ .]?\d{2,4}(?:[ .]?\d{2,4})?)(?![\w\-]|[.,]\d)")
_HOTLINE = re.compile(
    r"(?i:\b(?:gọi(?: ngay)?(?: cho| đến| tới| số)?|tổng đài|đường dây nóng|hotline|số khẩn cấp|cấp cứu"
    r"|cứu hỏa|cứu hộ|báo cháy))[ :]*"
    r"(11[1-5](?:\s*(?:,|hoặc|và|/)\s*11[1-5])*)(?![\w]|[.,]\d)"
)
_HOTLINE_NUMBER = re.compile(r"11[1-5]")
_SEPARATORS = re.compile(r"[ .\-]")


def _read_groups(groups: list[str]) -> str:
    # a comma between groups gives the listener the same pauses as the written grouping
    return ", ".join(digits(g) for g in groups)


def _regroup(run: str) -> list[str]:
    """An unseparated number is read in groups of 4-3-3 (or 4-3-4 / 3-3-3) like people say them."""
    if len(run) == 9:
        return [run[:3], run[3:6], run[6:]]
    return [run[:4], run[4:7], run[7:]]


def _phone(m: re.Match[str]) -> str:
    prefix, body = m.group(1), m.group(2)
    groups = [g for g in _SEPARATORS.split(body) if g]
    # keep whole groups up to 10 digits after the leading 0 / +84; a further group is another number
    kept: list[str] = []
    total = 0
    for g in groups:
        if total + len(g) > 10:
            break
        kept.append(g)
        total += len(g)
    if total not in (9, 10):
        return m.group(0)
    if prefix == "0":
        national, head = ["0" + kept[0], *kept[1:]], ""
    else:
        national, head = kept, "cộng tám bốn, "
    if len(national) == 1:
        national = _regroup(national[0])
    spoken = head + _read_groups(national)
    if len(kept) < len(groups):
        end = _nth_digit_end(m.group(0), total + len(prefix.lstrip("+")))
        return spoken + m.group(0)[end:]
    return spoken


def _nth_digit_end(s: str, n: int) -> int:
    seen = 0
    for i, c in enumerate(s):
        if c.isdigit():
            seen += 1
            if seen == n:
                return i + 1
    return len(s)


def _service(m: re.Match[str]) -> str:
    groups = [m.group(1)] + [g for g in _SEPARATORS.split(m.group(2)) if g]
    if sum(len(g) for g in groups) not in (8, 10):
        return m.group(0)
    return _read_groups(groups)


def _hotline(m: re.Match[str]) -> str:
    start = m.start(1) - m.start(0)
    head = m.group(0)[:start]
    return head + _HOTLINE_NUMBER.sub(lambda h: digits(h.group(0)), m.group(1))


def phones(text: str) -> str:
    text = _HOTLINE.sub(_hotline, text)
    text = _SERVICE.sub(_service, text)
    return _PHONE.sub(_phone, text)


# --- dates ---------------------------------------------------------------------------------------------------

def month_name(month: int, dialect: Dialect) -> str:
    return "tư" if month == 4 else cardinal(month, dialect)


def _valid(day: int | None, month: int) -> bool:
    return 1 <= month <= 12 and (day is None or 1 <= day <= 31)


def _preceded_by(m: re.Match[str], word: str) -> bool:
    before = m.string[max(0, m.start() - len(word) - 2): m.start()].rstrip().lower()
    return before.endswith(word) and (len(before) == len(word) or not before[-len(word) - 1].isalnum())


def _date_words(day: str | None, month: str, year: str | None, dialect: Dialect, say_day: bool = True) -> str:
    words = []
    if day is not None:
        words.append(("ngày " if say_day else "") + cardinal(int(day), dialect))
    words.append("tháng " + month_name(int(month), dialect))
    if year:
        words.append("năm " + cardinal(int(year), dialect))
    return " ".join(words)


_FULL_DATE = re.compile(_L + r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})" + _R)
_DATE_RANGE = re.compile(
    _L + r"(\d{1,2})/(\d{1,2})(?:/(\d{4}))?\s*-\s*(\d{1,2})/(\d{1,2})(?:/(\d{4}))?" + _R
)
_DAY_RANGE = re.compile(_L + r"(\d{1,2})\s*-\s*(\d{1,2})/(\d{1,2})(?:/(\d{4}))?" + _R)
_MONTH_YEAR = re.compile(_L + r"(\d{1,2})[/\-](\d{4})" + _R)
_DAY_MONTH = re.compile(_L + r"(\d{1,2})/(\d{1,2})" + _R)


# "1/3 số hộ", "chiếm 2/3": a fraction, not a date. Decided by the words around it.
_FRACTION_BEFORE = ("khoảng", "gần", "hơn", "chiếm", "dưới", "đạt", "còn", "tới", "được")
_FRACTION_AFTER = re.compile(r"\s+(?:số|tổng|dân số|diện tích|lượng|quãng)\b", re.I)


def _looks_like_fraction(m: re.Match[str]) -> bool:
    if any(_preceded_by(m, word) for word in _FRACTION_BEFORE):
        return True
    return _FRACTION_AFTER.match(m.string, m.end()) is not None


def fraction(numerator: int, denominator: int, dialect: Dialect) -> str:
    """1/3 -> một phần ba, 3/4 -> ba phần tư."""
    below = "tư" if denominator == 4 else cardinal(denominator, dialect)
    return f"{cardinal(numerator, dialect)} phần {below}"


def dates(text: str, dialect: Dialect) -> str:
    def date_range(m: re.Match[str]) -> str:
        d1, m1, y1, d2, m2, y2 = m.groups()
        if not (_valid(int(d1), int(m1)) and _valid(int(d2), int(m2))):
            return m.group(0)
        first = _date_words(d1, m1, y1, dialect, say_day=not _preceded_by(m, "ngày"))
        return f"{first} đến {_date_words(d2, m2, y2, dialect)}"

    def day_range(m: re.Match[str]) -> str:
        d1, d2, month, year = m.groups()
        if not (_valid(int(d1), int(month)) and _valid(int(d2), int(month))):
            return m.group(0)
        lead = "" if _preceded_by(m, "ngày") else "ngày "
        return f"{lead}{cardinal(int(d1), dialect)} đến {_date_words(d2, month, year, dialect)}"

    def full_date(m: re.Match[str]) -> str:
        day, _, month, year = m.groups()
        if not _valid(int(day), int(month)):
            return m.group(0)
        return _date_words(day, month, year, dialect, say_day=not _preceded_by(m, "ngày"))

    def month_year(m: re.Match[str]) -> str:
        month, year = m.groups()
        if not _valid(None, int(month)) or _preceded_by(m, "số"):
            return m.group(0)
        words = _date_words(None, month, year, dialect)
        return words[len("tháng "):] if _preceded_by(m, "tháng") else words

    def day_month(m: re.Match[str]) -> str:
        day, month = m.groups()
        if _looks_like_fraction(m):
            return fraction(int(day), int(month), dialect)
        if not _valid(int(day), int(month)) or _preceded_by(m, "số"):
            return m.group(0)
        return _date_words(day, month, None, dialect, say_day=not _preceded_by(m, "ngày"))

    text = _DATE_RANGE.sub(date_range, text)
    text = _DAY_RANGE.sub(day_range, text)
    text = _FULL_DATE.sub(full_date, text)
    text = _MONTH_YEAR.sub(month_year, text)
    return _DAY_MONTH.sub(day_month, text)


# --- times ---------------------------------------------------------------------------------------------------

_CLOCK = r"(\d{1,2})(?:[hHgG:](\d{2})|[hH])(?:'|ph|p)?"
_TIME = re.compile(r"(?<![\w.,:])" + _CLOCK + r"(?:\s*(?:-|đến)\s*" + _CLOCK + r")?(?![\w:])")
_HOUR_RANGE = re.compile(r"(?<![\w.,:])(\d{1,2})\s*-\s*(\d{1,2})\s?[hH](?![\w:])")


def _clock_words(hour: str, minute: str | None, dialect: Dialect) -> str | None:
    h = int(hour)
    mnt = int(minute) if minute else 0
    if h > 24 or mnt > 59:
        return None
    words = f"{cardinal(h, dialect)} giờ"
    return f"{words} {cardinal(mnt, dialect)} phút" if mnt else words


def times(text: str, dialect: Dialect) -> str:
    def time(m: re.Match[str]) -> str:
        first = _clock_words(m.group(1), m.group(2), dialect)
        if first is None:
            return m.group(0)
        if m.group(3) is None:
            return first
        second = _clock_words(m.group(3), m.group(4), dialect)
        return m.group(0) if second is None else f"{first} đến {second}"

    def hour_range(m: re.Match[str]) -> str:
        a, b = int(m.group(1)), int(m.group(2))
        if a > 24 or b > 24:
            return m.group(0)
        return f"{cardinal(a, dialect)} đến {cardinal(b, dialect)} giờ"

    text = _HOUR_RANGE.sub(hour_range, text)
    return _TIME.sub(time, text)
