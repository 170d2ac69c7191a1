"""CAP 1.2 (OASIS Common Alerting Protocol) ingest: parse safely, validate, decide.

Parsing goes through defusedxml with DTDs, entities and external references forbidden, after
a size limit, so billion-laughs, XXE (file:///etc/passwd) and oversized posts end as a
`CapError` with a stable code (the API maps it to a 4xx). Nothing here airs anything: `decide`
returns what the station should do (priority, villages, Vietnamese text, auto-air or confirm).

Severity/urgency → priority (documented in docs/schedules.md):
- Extreme or Severe, with urgency Immediate or Expected → EMERGENCY
- Extreme or Severe with another urgency, or Moderate   → PRIORITY
- anything else (Minor, Unknown)                         → NORMAL
Auto-air without a cadre: only Extreme + Immediate, and only where the station allows it.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as StdET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import defusedxml
import defusedxml.ElementTree as SafeET

from loa.errors import LoaError, split_bilingual
from schedules.model import Priority, StationSettings, require_aware

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_BYTES = 512 * 1024  # real CAP alerts are a few kB; a large post is refused before parsing
_N = "{" + CAP_NS + "}"

STATUSES = {"Actual", "Exercise", "System", "Test", "Draft"}
MSG_TYPES = {"Alert", "Update", "Cancel", "Ack", "Error"}
SCOPES = {"Public", "Restricted", "Private"}
CATEGORIES = {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
              "Infra", "CBRNE", "Other"}
URGENCIES = {"Immediate", "Expected", "Future", "Past", "Unknown"}
SEVERITIES = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
CERTAINTIES = {"Observed", "Likely", "Possible", "Unlikely", "Unknown"}


class CapError(LoaError, ValueError):
    """A refused CAP document (permanent): `code` is stable for clients, the message is Vietnamese / English."""

    status = 422

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self._describe(code, *split_bilingual(message))
        self.message = message


@dataclass(frozen=True, slots=True)
class CapArea:
    desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()   # rings of (lat, lon)
    circles: tuple[tuple[float, float, float], ...] = ()         # (lat, lon, radius km)
    geocodes: tuple[tuple[str, str], ...] = ()                   # (valueName, value)


@dataclass(frozen=True, slots=True)
class CapInfo:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str
    areas: tuple[CapArea, ...]
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None


@dataclass(frozen=True, slots=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    infos: tuple[CapInfo, ...]
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VillagePlace:
    """Where a village is, for matching alert areas: coordinates and configured geocodes."""

    village_id: str
    lat: float
    lon: float
    geocodes: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class CapDecision:
    alert: CapAlert
    info: CapInfo | None
    priority: Priority
    village_ids: tuple[str, ...]
    text: str
    language: str
    auto_air: bool            # air at once, no cadre needed
    cancels: tuple[str, ...] = ()  # identifiers a Cancel message withdraws

    @property
    def needs_confirmation(self) -> bool:
        return not self.auto_air and not self.cancels


# ---------------------------------------------------------------- parsing


def parse_cap(data: bytes | str) -> CapAlert:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if not raw.strip():
        raise CapError("empty", "Tệp rỗng / the document is empty")
    if len(raw) > MAX_BYTES:
        raise CapError("too_large", f"Tệp quá lớn (tối đa {MAX_BYTES // 1024} kB) / the document is too large")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as exc:
        raise CapError("dtd_forbidden", "Không chấp nhận DTD trong cảnh báo / DTDs are not allowed") from exc
    except defusedxml.EntitiesForbidden as exc:
        raise CapError("entities_forbidden", "Không chấp nhận thực thể XML / XML entities are not allowed") from exc
    except defusedxml.ExternalReferenceForbidden as exc:
        raise CapError("external_reference_forbidden",
                       "Không chấp nhận tham chiếu ngoài / external references are not allowed") from exc
    except defusedxml.DefusedXmlException as exc:
        raise CapError("unsafe_xml", f"XML không an toàn / unsafe XML: {exc}") from exc
    except StdET.ParseError as exc:
        raise CapError("malformed", f"XML hỏng / malformed XML: {exc}") from exc
    if root.tag != _N + "alert":
        raise CapError("wrong_namespace",
                       f"Không phải CAP 1.2 (cần {CAP_NS}) / not a CAP 1.2 alert: root is {root.tag!r}")
    return _alert(root)


def _text(el: StdET.Element, name: str, required: bool = True, where: str = "alert") -> str:
    child = el.find(_N + name)
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise CapError("missing_field", f"Thiếu trường {where}/{name} / missing required field {where}/{name}")
    return value


def _choice(el: StdET.Element, name: str, allowed: set[str], where: str) -> str:
    value = _text(el, name, True, where)
    if value not in allowed:
        raise CapError("invalid_value", f"Giá trị {where}/{name}={value!r} không hợp lệ / invalid value")
    return value


def _time(value: str, name: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
        require_aware(dt, name)
    except (ValueError, TypeError) as exc:
        raise CapError("invalid_value", f"Thời gian {name}={value!r} không hợp lệ (cần múi giờ)"
                                        f" / invalid {name} (needs an offset)") from exc
    return dt


def _alert(root: StdET.Element) -> CapAlert:
    identifier = _text(root, "identifier")
    sender = _text(root, "sender")
    sent = _time(_text(root, "sent"), "sent")
    status = _choice(root, "status", STATUSES, "alert")
    msg_type = _choice(root, "msgType", MSG_TYPES, "alert")
    scope = _choice(root, "scope", SCOPES, "alert")
    refs = tuple(r.split(",")[1] if r.count(",") >= 2 else r for r in _text(root, "references", False).split())
    infos = tuple(_info(el) for el in root.findall(_N + "info"))
    if not infos and msg_type in ("Alert", "Update"):
        raise CapError("missing_field", "Thiếu phần info / the alert has no info block")
    return CapAlert(identifier, sender, sent, status, msg_type, scope, infos, refs)


def _info(el: StdET.Element) -> CapInfo:
    w = "info"
    cats = tuple(c.text.strip() for c in el.findall(_N + "category") if c.text and c.text.strip())
    if not cats:
        raise CapError("missing_field", "Thiếu trường info/category / missing required field info/category")
    bad = [c for c in cats if c not in CATEGORIES]
    if bad:
        raise CapError("invalid_value", f"Loại cảnh báo không hợp lệ / invalid category {bad[0]!r}")
    areas = tuple(_area(a) for a in el.findall(_N + "area"))
    if not areas:
        raise CapError("missing_field", "Thiếu vùng cảnh báo (area) / the info has no area")
    opt = {n: _text(el, n, False, w) for n in ("effective", "onset", "expires")}
    return CapInfo(
        language=_text(el, "language", False, w) or "en-US",
        categories=cats,
        event=_text(el, "event", True, w),
        urgency=_choice(el, "urgency", URGENCIES, w),
        severity=_choice(el, "severity", SEVERITIES, w),
        certainty=_choice(el, "certainty", CERTAINTIES, w),
        headline=_text(el, "headline", False, w),
        description=_text(el, "description", False, w),
        instruction=_text(el, "instruction", False, w),
        areas=areas,
        **{k: (_time(v, k) if v else None) for k, v in opt.items()},
    )


def _area(el: StdET.Element) -> CapArea:
    desc = _text(el, "areaDesc", True, "area")
    polys = tuple(_polygon(p.text or "") for p in el.findall(_N + "polygon"))
    circles = tuple(_circle(c.text or "") for c in el.findall(_N + "circle"))
    codes = tuple((_text(g, "valueName", True, "geocode"), _text(g, "value", True, "geocode"))
                  for g in el.findall(_N + "geocode"))
    return CapArea(desc, polys, circles, codes)


def _point(pair: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = pair.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError as exc:
        raise CapError("invalid_value", f"Toạ độ không hợp lệ / invalid coordinate {pair!r}") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise CapError("invalid_value", f"Toạ độ ngoài phạm vi / coordinate out of range {pair!r}")
    return lat, lon


def _polygon(text: str) -> tuple[tuple[float, float], ...]:
    pts = tuple(_point(p) for p in text.split())
    if len(pts) < 4 or pts[0] != pts[-1]:
        raise CapError("invalid_value", "Đa giác cần ≥ 4 điểm, khép kín / a polygon needs ≥ 4 points, closed")
    return pts


def _circle(text: str) -> tuple[float, float, float]:
    parts = text.split()
    if len(parts) != 2:
        raise CapError("invalid_value", f"Vòng tròn không hợp lệ / invalid circle {text!r}")
    lat, lon = _point(parts[0])
    try:
        radius = float(parts[1])
    except ValueError as exc:
        raise CapError("invalid_value", f"Bán kính không hợp lệ / invalid radius {parts[1]!r}") from exc
    if not radius >= 0:
        raise CapError("invalid_value", "Bán kính âm / negative radius")
    return lat, lon, radius


# ---------------------------------------------------------------- geometry


def point_in_polygon(lat: float, lon: float, ring: Sequence[tuple[float, float]]) -> bool:
    """Ray casting (even-odd) in the lat/lon plane; points on an edge count as inside."""
    inside = False
    n = len(ring)
    for i in range(n - 1):
        (y1, x1), (y2, x2) = ring[i], ring[i + 1]
        # on the edge?
        cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1)
        if abs(cross) < 1e-12 and min(x1, x2) <= lon <= max(x1, x2) and min(y1, y2) <= lat <= max(y1, y2):
            return True
        if (y1 > lat) != (y2 > lat):
            x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_at:
                inside = not inside
    return inside


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def area_contains(area: CapArea, place: VillagePlace) -> bool:
    if any(code in place.geocodes for code in area.geocodes):
        return True
    if any(point_in_polygon(place.lat, place.lon, ring) for ring in area.polygons):
        return True
    return any(distance_km(place.lat, place.lon, la, lo) <= r for la, lo, r in area.circles)


# ---------------------------------------------------------------- decision


def priority_for(severity: str, urgency: str) -> Priority:
    if severity in ("Extreme", "Severe"):
        return Priority.EMERGENCY if urgency in ("Immediate", "Expected") else Priority.PRIORITY
    if severity == "Moderate":
        return Priority.PRIORITY
    return Priority.NORMAL


def choose_info(infos: Sequence[CapInfo]) -> CapInfo:
    """The Vietnamese info block (language vi or vi-VN) if there is one, else the first."""
    for info in infos:
        if info.language.lower() == "vi" or info.language.lower().startswith("vi-"):
            return info
    return infos[0]


def spoken_text(info: CapInfo) -> str:
    parts = [info.headline or info.event, info.description, info.instruction]
    return "\n".join(p.strip() for p in parts if p and p.strip())


def decide(alert: CapAlert, places: Sequence[VillagePlace], now: datetime,
           settings: StationSettings = StationSettings()) -> CapDecision:
    require_aware(now, "now")
    if alert.status != "Actual":
        raise CapError("not_actual", f"Cảnh báo trạng thái {alert.status}, không phát / status {alert.status}:"
                                     f" not aired")
    if alert.msg_type in ("Ack", "Error"):
        raise CapError("unsupported_msgtype", f"Loại tin {alert.msg_type} không phát được / {alert.msg_type}"
                                              f" messages are not broadcast")
    if alert.msg_type == "Cancel":
        if not alert.references:
            raise CapError("missing_field", "Tin huỷ thiếu references / a Cancel needs references")
        return CapDecision(alert, None, Priority.NORMAL, (), "", "", False, alert.references)
    info = choose_info(alert.infos)
    if info.expires is not None and info.expires < now:
        raise CapError("expired", f"Cảnh báo đã hết hạn lúc {info.expires.isoformat()} / the alert has expired")
    villages = sorted({p.village_id for p in places for a in info.areas if area_contains(a, p)})
    if not villages:
        raise CapError("outside_area", "Vùng cảnh báo không thuộc thôn nào của xã / the alert's area covers"
                                       " none of the commune's villages")
    auto = (settings.auto_air_extreme_immediate and info.severity == "Extreme"
            and info.urgency == "Immediate")
    return CapDecision(alert, info, priority_for(info.severity, info.urgency), tuple(villages),
                       spoken_text(info), info.language, auto)


def ingest_cap(data: bytes | str, places: Sequence[VillagePlace], now: datetime,
               settings: StationSettings = StationSettings()) -> CapDecision:
    """parse_cap + decide: the one call the API makes for POSTed CAP documents."""
    return decide(parse_cap(data), places, now, settings)
