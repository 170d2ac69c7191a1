"""Checks of what a person types about a place: names, coordinates, CAP geocodes, a default language.

The same rules serve the JSON API and the admin pages, so a bad value gets the same clear 422 wherever it was
typed. Geocodes are kept in the form the CAP matcher reads (schedules/cap_service.village_places):
`valueName=value, valueName=value`; a part without "=" would be silently ignored there, so it is refused here.
"""
from __future__ import annotations

import math
import re

from loa.languages import normalize_tag
from loa.errors import Invalid

# A CAP <valueName> is a token such as "SAME", "FIPS6", "VN-ADMIN"; a value is a code, no comma or "=" in it
# (the comma separates pairs on the village).
_VALUE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:/-]{0,63}$")
_VALUE = re.compile(r"^[^,=\s](?:[^,=]{0,98}[^,=\s])?$")
GEOCODES_MAX = 500


def name(value: str | None, what_vi: str = "tên", what_en: str = "name", max_len: int = 200) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise Invalid("name_required", f"Hãy nhập {what_vi}", f"Enter the {what_en}")
    if len(text) > max_len:
        raise Invalid("name_too_long", f"{what_vi.capitalize()} dài quá {max_len} ký tự",
                      f"The {what_en} is longer than {max_len} characters")
    return text


def latitude(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not -90 <= value <= 90:
        raise Invalid("latitude_invalid", "Vĩ độ phải là số từ -90 đến 90 (ví dụ 22.5)",
                      "Latitude must be a number from -90 to 90 (e.g. 22.5)")
    return round(float(value), 6)


def longitude(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not -180 <= value <= 180:
        raise Invalid("longitude_invalid", "Kinh độ phải là số từ -180 đến 180 (ví dụ 103.9)",
                      "Longitude must be a number from -180 to 180 (e.g. 103.9)")
    return round(float(value), 6)


def coordinates(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """Both or neither: half a position cannot be drawn on the map nor matched against an alert's area."""
    lat, lon = latitude(lat), longitude(lon)
    if (lat is None) != (lon is None):
        raise Invalid("coordinates_incomplete", "Hãy nhập cả vĩ độ và kinh độ, hoặc để trống cả hai",
                      "Enter both latitude and longitude, or neither")
    return lat, lon


def parse_number(text: str | None, field_vi: str, field_en: str) -> float | None:
    """A number typed in a form: empty is None; a decimal comma ("22,5", as Vietnamese write it) is accepted."""
    raw = (text or "").strip().replace(" ", "")
    if not raw:
        return None
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    try:
        number = float(raw)
    except ValueError:
        raise Invalid("number_invalid", f"{field_vi} phải là một số (ví dụ 22.5)",
                      f"{field_en} must be a number (e.g. 22.5)") from None
    if not math.isfinite(number):
        raise Invalid("number_invalid", f"{field_vi} phải là một số (ví dụ 22.5)",
                      f"{field_en} must be a number (e.g. 22.5)")
    return number


def geocodes(value: str | None) -> str | None:
    """`valueName=value, …` normalised (spaces trimmed, duplicates dropped), or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    pairs: list[str] = []
    for part in text.replace("\n", ",").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, code = part.partition("=")
        key, code = key.strip(), code.strip()
        if not sep or not _VALUE_NAME.match(key) or not _VALUE.match(code):
            raise Invalid("geocode_invalid",
                          f"Mã vùng CAP «{part[:60]}» sai dạng: mỗi mã viết là tên=giá trị, cách nhau bằng dấu phẩy "
                          "(ví dụ VN-ADMIN=08, SAME=123456)",
                          f"CAP geocode «{part[:60]}» is malformed: write name=value, separated by commas "
                          "(e.g. VN-ADMIN=08, SAME=123456)")
        pair = f"{key}={code}"
        if pair not in pairs:
            pairs.append(pair)
    joined = ", ".join(pairs)
    if len(joined) > GEOCODES_MAX:
        raise Invalid("geocodes_too_long", f"Danh sách mã vùng CAP dài quá {GEOCODES_MAX} ký tự",
                      f"The CAP geocodes are longer than {GEOCODES_MAX} characters")
    return joined or None


def language(tag: str | None) -> str:
    return normalize_tag(tag or "vi")
