from pathlib import Path

import pytest

from schedules.cap import (
    MAX_BYTES, CapError, VillagePlace, distance_km, ingest_cap, parse_cap, point_in_polygon,
)
from schedules.model import Priority, StationSettings

from .helpers import at

SAMPLES = Path(__file__).parent / "cap_samples"
NOW = at(2026, 11, 20, 9)
PLACES = [
    VillagePlace("un-ta", 22.4500, 103.9200, frozenset({("VN-village", "CS-UNTA")})),
    VillagePlace("lung-thang", 22.4700, 103.9500, frozenset({("VN-village", "CS-LUNGTHANG")})),
    VillagePlace("coc-san", 22.4300, 103.9900),
    VillagePlace("far-away", 21.0300, 105.8500),  # Hà Nội: outside every sample area
]
AUTO = StationSettings(auto_air_extreme_immediate=True)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_storm_extreme_immediate_prefers_vietnamese_and_auto_airs_where_allowed():
    d = ingest_cap(sample("storm.xml"), PLACES, NOW, AUTO)
    assert d.priority is Priority.EMERGENCY
    assert d.language == "vi-VN" and d.info.event == "Bão số 5"
    assert d.text.startswith("Bão số 5 đang tiến vào Lào Cai\nGió mạnh cấp 10")
    assert "không ra sông suối" in d.text
    assert d.village_ids == ("coc-san", "lung-thang", "un-ta")
    assert d.auto_air and not d.needs_confirmation
    # the default station does not allow auto-air: a cadre confirms
    d2 = ingest_cap(sample("storm.xml"), PLACES, NOW)
    assert not d2.auto_air and d2.needs_confirmation
    assert d.alert.identifier == "VN-NCHMF-2026-11-20-BAO05" and d.alert.sent == at(2026, 11, 20, 5, 30)


def test_flood_severe_expected_by_geocode_needs_confirmation():
    d = ingest_cap(sample("flood.xml"), PLACES, NOW, AUTO)
    assert d.priority is Priority.EMERGENCY  # Severe + Expected
    assert d.village_ids == ("lung-thang", "un-ta")
    assert not d.auto_air and d.needs_confirmation  # not Extreme + Immediate
    assert d.info.categories == ("Met", "Env")


def test_landslide_moderate_by_circle_is_priority():
    d = ingest_cap(sample("landslide.xml"), PLACES, NOW, AUTO)
    assert d.priority is Priority.PRIORITY
    assert d.village_ids == ("un-ta",)  # ~1 km from the centre; lung-thang is ~4.4 km away
    assert distance_km(22.4510, 103.9105, 22.47, 103.95) > 2.0


def test_cancel_message_names_what_it_withdraws():
    d = ingest_cap(sample("cancel.xml"), PLACES, NOW)
    assert d.cancels == ("VN-LCI-2026-11-20-LU01",) and d.village_ids == () and not d.needs_confirmation


def test_expired_alert_refused():
    with pytest.raises(CapError) as e:
        ingest_cap(sample("storm.xml"), PLACES, at(2026, 11, 21, 6))
    assert e.value.code == "expired" and "hết hạn" in e.value.message


def test_area_outside_the_commune_refused():
    with pytest.raises(CapError) as e:
        ingest_cap(sample("storm.xml"), PLACES[3:], NOW)
    assert e.value.code == "outside_area"


@pytest.mark.parametrize("status,code", [("Test", "not_actual"), ("Exercise", "not_actual"), ("Maybe", "invalid_value")])
def test_status_other_than_actual_does_not_air(status, code):
    xml = sample("storm.xml").replace(b"<status>Actual</status>", f"<status>{status}</status>".encode())
    with pytest.raises(CapError) as e:
        ingest_cap(xml, PLACES, NOW)
    assert e.value.code == code


@pytest.mark.parametrize("field", ["identifier", "sender", "sent", "status", "msgType", "scope",
                                   "category", "event", "urgency", "severity", "certainty", "areaDesc"])
def test_missing_required_field(field):
    import re

    xml = re.sub(rf"<{field}>.*?</{field}>".encode(), b"", sample("flood.xml"), flags=re.S)
    with pytest.raises(CapError) as e:
        parse_cap(xml)
    assert e.value.code == "missing_field" and field in e.value.message


def test_bad_values():
    cases = [(b"<severity>Severe</severity>", b"<severity>Terrible</severity>"),
             (b"<sent>2026-11-20T07:00:00+07:00</sent>", b"<sent>2026-11-20T07:00:00</sent>"),  # no offset
             (b"<sent>2026-11-20T07:00:00+07:00</sent>", b"<sent>yesterday</sent>")]
    for old, new in cases:
        with pytest.raises(CapError) as e:
            parse_cap(sample("flood.xml").replace(old, new))
        assert e.value.code == "invalid_value"
    poly = sample("storm.xml").replace(b"22.30,103.80 22.60,103.80 22.60,104.10", b"22.30,103.80 95,103.80 22.6,1")
    with pytest.raises(CapError) as e:
        parse_cap(poly)
    assert e.value.code == "invalid_value"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol4;</identifier></alert>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""

DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://attacker.example/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>"""


@pytest.mark.parametrize("data,code", [
    (BILLION_LAUGHS, "dtd_forbidden"),
    (XXE, "dtd_forbidden"),
    (DTD_ONLY, "dtd_forbidden"),
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.1'><identifier>x</identifier></alert>", "wrong_namespace"),
    (b"<alert><identifier>x</identifier></alert>", "wrong_namespace"),
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</identif", "malformed"),
    (b"not xml at all", "malformed"),
    (b"   ", "empty"),
    (b"<a>" + b"x" * (MAX_BYTES + 1) + b"</a>", "too_large"),
])
def test_hostile_and_malformed_xml(data, code):
    with pytest.raises(CapError) as e:
        parse_cap(data)
    assert e.value.code == code
    assert " / " in e.value.message  # Vietnamese / English
    assert "root:" not in str(e.value)  # /etc/passwd content never leaks


def test_entities_without_dtd_parsing_are_refused_too():
    # defusedxml's other guards, if the DTD check were relaxed: still an error with a code
    import defusedxml.ElementTree as SafeET

    with pytest.raises(Exception) as e:
        SafeET.fromstring(XXE, forbid_dtd=False)
    assert "Forbidden" in type(e.value).__name__


def test_point_in_polygon():
    square = ((0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0), (0.0, 0.0))
    assert point_in_polygon(5, 5, square) and not point_in_polygon(11, 5, square)
    assert point_in_polygon(0, 5, square)  # on an edge
    # concave "U": the notch is outside
    u = ((0, 0), (0, 9), (9, 9), (9, 6), (3, 6), (3, 3), (9, 3), (9, 0), (0, 0))
    assert point_in_polygon(1, 4.5, u) and not point_in_polygon(6, 4.5, u) and point_in_polygon(6, 1, u)
