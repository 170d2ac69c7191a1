"""What a person may type about a place (loa/org/checks.py): coordinates in range and in pairs, CAP geocodes in
the `name=value, …` form the CAP matcher reads, a decimal comma accepted, each refusal a clear 422."""
from __future__ import annotations

import pytest

from loa.errors import Invalid
from loa.org import checks


@pytest.mark.parametrize("text,expected", [
    ("VN-ADMIN=08", "VN-ADMIN=08"), (" VN-ADMIN = 08 , SAME=123456 ", "VN-ADMIN=08, SAME=123456"),
    ("A=1;B=2\nC=3", "A=1, B=2, C=3"), ("A=1, A=1", "A=1"), ("", None), ("  ", None), (None, None),
    ("VN-village=CS-UNTA", "VN-village=CS-UNTA"), ("FIPS6=Lào Cai", "FIPS6=Lào Cai"),
])
def test_geocodes_are_normalised(text, expected):
    assert checks.geocodes(text) == expected


@pytest.mark.parametrize("text", ["VN-ADMIN", "=08", "A=", "A=1=2", "1A=2", "A B=1", "A=1, B", "A=" + "x" * 120])
def test_malformed_geocodes_are_refused(text):
    with pytest.raises(Invalid) as err:
        checks.geocodes(text)
    assert err.value.code == "geocode_invalid" and "tên=giá trị" in err.value.message_vi


def test_too_many_geocodes():
    with pytest.raises(Invalid) as err:
        checks.geocodes(", ".join(f"CODE{i}=V{i:05d}" for i in range(60)))
    assert err.value.code == "geocodes_too_long"


@pytest.mark.parametrize("lat,lon", [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (None, None), (22.5, 103.9)])
def test_coordinates_in_range(lat, lon):
    assert checks.coordinates(lat, lon) == (lat, lon)


@pytest.mark.parametrize("lat,lon,code", [
    (90.01, 100.0, "latitude_invalid"), (-91.0, 100.0, "latitude_invalid"), (10.0, 180.5, "longitude_invalid"),
    (10.0, -181.0, "longitude_invalid"), (float("nan"), 1.0, "latitude_invalid"), (1.0, float("inf"), "longitude_invalid"),
    (10.0, None, "coordinates_incomplete"), (None, 10.0, "coordinates_incomplete"),
])
def test_bad_coordinates(lat, lon, code):
    with pytest.raises(Invalid) as err:
        checks.coordinates(lat, lon)
    assert err.value.code == code and err.value.status == 422


@pytest.mark.parametrize("text,expected", [("22,5412", 22.5412), (" 103.9 ", 103.9), ("-3", -3.0), ("", None)])
def test_numbers_as_typed(text, expected):
    assert checks.parse_number(text, "Vĩ độ", "Latitude") == expected


@pytest.mark.parametrize("text", ["abc", "1,2,3", "1.2,3", "nan", "inf", "22°"])
def test_numbers_that_are_not(text):
    with pytest.raises(Invalid) as err:
        checks.parse_number(text, "Vĩ độ", "Latitude")
    assert "Vĩ độ phải là một số" in err.value.message_vi


def test_names_and_languages():
    assert checks.name("  Ún   Tà ") == "Ún Tà"
    with pytest.raises(Invalid):
        checks.name("   ")
    with pytest.raises(Invalid):
        checks.name("x" * 201)
    assert checks.language("HNJ") == "hnj" and checks.language(None) == "vi"
    with pytest.raises(Invalid):
        checks.language("not a tag")
