"""A simple map of a commune drawn on the server as inline SVG: the villages and loudspeaker clusters at their
coordinates, with labels and a scale bar. No map tiles (a station may have no internet) and no script (CSP).

Projection: equirectangular around the commune's middle latitude (x scaled by cos(latitude)), good to a few
metres over a commune's 10–20 km. A cluster without its own position is drawn at its village's point."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH = 360          # px of the viewBox: a phone's width; the SVG scales with the page
PAD = 34             # room for labels at the edges
FOOT = 22            # a strip under the places for the scale bar and the north sign
MIN_SPAN_DEG = 0.01  # one place alone still gets ~1 km around it
KM_PER_DEG = 111.32


@dataclass(frozen=True)
class Spot:
    id: int
    label: str
    x: float
    y: float
    lat: float
    lon: float
    own_position: bool = True   # False: a cluster drawn at its village's point
    anchor: str = "middle"      # where its label hangs: labels near an edge grow inwards

    @property
    def label_x(self) -> float:
        return {"start": self.x - 6, "end": self.x + 6}.get(self.anchor, self.x)


@dataclass
class Drawing:
    width: int
    height: int
    villages: list[Spot] = field(default_factory=list)
    devices: list[Spot] = field(default_factory=list)
    links: list[tuple[float, float, float, float]] = field(default_factory=list)  # cluster → its village
    scale_px: float = 0.0
    scale_km: float = 0.0
    unplaced: list[str] = field(default_factory=list)  # names without coordinates, listed under the map


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _nice_km(max_km: float) -> float:
    """A round distance (0.1, 0.2, 0.5, 1, 2, 5 … km) no longer than max_km."""
    if max_km <= 0:
        return 0.0
    step = 10 ** math.floor(math.log10(max_km))
    for factor in (5, 2, 1):
        if factor * step <= max_km:
            return factor * step
    return step


def draw(villages: list, devices: list) -> Drawing | None:
    """`villages`: rows with id, name, latitude, longitude; `devices`: rows with id, name, village_id, latitude,
    longitude. None when nothing has coordinates (the page then says how to add them)."""
    village_at = {v.id: (v.latitude, v.longitude) for v in villages
                  if v.latitude is not None and v.longitude is not None}
    device_at: dict[int, tuple[float, float, bool]] = {}
    unplaced = [v.name for v in villages if v.id not in village_at]
    for d in devices:
        if d.latitude is not None and d.longitude is not None:
            device_at[d.id] = (d.latitude, d.longitude, True)
        elif d.village_id in village_at:
            lat, lon = village_at[d.village_id]
            device_at[d.id] = (lat, lon, False)
        else:
            unplaced.append(d.name)
    points = list(village_at.values()) + [(lat, lon) for lat, lon, _ in device_at.values()]
    if not points:
        return None
    lat_lo, lat_hi = min(p[0] for p in points), max(p[0] for p in points)
    lon_lo, lon_hi = min(p[1] for p in points), max(p[1] for p in points)
    lat_mid = (lat_lo + lat_hi) / 2
    k = max(math.cos(math.radians(lat_mid)), 0.01)  # metres per degree of longitude shrink with latitude
    span_x = max((lon_hi - lon_lo) * k, MIN_SPAN_DEG)
    span_y = max(lat_hi - lat_lo, MIN_SPAN_DEG)
    inner = WIDTH - 2 * PAD
    scale = inner / max(span_x, span_y)  # px per degree of latitude; the same on both axes
    drawn = span_y * scale + 2 * PAD
    height = int(round(drawn + FOOT))
    cx_deg, cy_deg = (lon_lo + lon_hi) / 2 * k, (lat_lo + lat_hi) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (round(WIDTH / 2 + (lon * k - cx_deg) * scale, 1), round(drawn / 2 - (lat - cy_deg) * scale, 1))

    def anchor(x: float) -> str:
        return "start" if x < WIDTH / 3 else "end" if x > WIDTH * 2 / 3 else "middle"

    out = Drawing(width=WIDTH, height=height, unplaced=unplaced)
    for v in villages:
        if v.id in village_at:
            lat, lon = village_at[v.id]
            x, y = xy(lat, lon)
            out.villages.append(Spot(v.id, _short(v.name), x, y, lat, lon, anchor=anchor(x)))
    beside: dict[int | None, int] = {}
    for d in devices:
        if d.id in device_at:
            lat, lon, own = device_at[d.id]
            x, y = xy(lat, lon)
            if not own:  # clusters at their village's point sit in a row under its dot, not on top of it
                nth = beside[d.village_id] = beside.get(d.village_id, -1) + 1
                x, y = round(x - 8 + 10 * nth, 1), round(y + 13, 1)
            spot = Spot(d.id, _short(d.name), x, y, lat, lon, own, anchor(x))
            out.devices.append(spot)
            if own and d.village_id in village_at:
                vx, vy = xy(*village_at[d.village_id])
                out.links.append((spot.x, spot.y, vx, vy))
    km_per_px = KM_PER_DEG / scale
    out.scale_km = _nice_km(km_per_px * inner / 3)
    out.scale_px = round(out.scale_km / km_per_px, 1) if out.scale_km else 0.0
    return out


def km_label(km: float) -> str:
    return f"{km * 1000:.0f} m" if km < 1 else f"{km:g} km"
