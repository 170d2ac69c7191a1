"""The commune overview across villages and months (issue 14): filters, the figures as rows for the page,
the JSON API and the CSV, and the server-drawn SVG bar charts. The figures come from
`broadcaster.station.airtotals` (the loudspeakers' own play records, never the timetable)."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlmodel import Session

from api.web.choices import KIND_LABELS, N_
from broadcaster.station.airreport import commune_overview
from broadcaster.station.airtotals import OUTCOMES, Cell, Overview, months_between
from content.library.models import Kind
from loa import csv_safe
from loa.accounts.principal import Principal
from loa.errors import Invalid, NotFound
from loa.org import service as org
from loa.org.models import Village

MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")
MAX_MONTHS = 24
DEFAULT_MONTHS = 6
KINDS = tuple(k.value for k in Kind) + ("relay", "other")
OVERVIEW_KIND_LABELS = {**KIND_LABELS, "relay": N_("Relay"), "other": N_("Other")}
# One colour per kind, the same in every chart; emergencies red as on the emergency page.
COLOURS = {"emergency": "#c62828", "directive": "#1565c0", "guidance": "#2e7d32", "news": "#6a1b9a",
           "relay": "#ef6c00", "chime": "#00838f", "music": "#ad1457", "other": "#757575"}


@dataclass
class Filters:
    villages: list[Village]        # the chosen villages (all the caller may see when none is chosen)
    village_ids: list[int]         # what was asked ([] = all)
    kinds: list[str]               # [] = all
    first: str
    last: str

    @property
    def months(self) -> list[str]:
        return months_between(self.first, self.last)


def _month_back(month: str, n: int) -> str:
    y, m = (int(x) for x in month.split("-"))
    total = y * 12 + (m - 1) - n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def village_ids(values: list[str]) -> list[int]:
    """The villages chosen in a form: an empty value is "all villages"."""
    out = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        if not value.isdigit() or len(value) > 10:
            raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
        out.append(int(value))
    return out


def parse_filters(session: Session, user: Principal, commune_id: int, villages: list[int], kinds: list[str],
                  first: str | None, last: str | None, now: datetime, tz: ZoneInfo) -> Filters:
    """Checks every filter; a village of another commune (or, for a village head, another village) is 404."""
    mine = org.list_villages(session, user, commune_id)
    by_id = {v.id: v for v in mine}
    for vid in villages:
        if vid not in by_id:
            raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
    kinds = [k for k in dict.fromkeys(k.strip() for k in kinds) if k]
    for k in kinds:
        if k not in KINDS:
            raise Invalid("kind_invalid", f"Loại không hợp lệ: «{k}»", f"Unknown kind: «{k}»")
    this_month = now.astimezone(tz).strftime("%Y-%m")
    last = (last or "").strip() or this_month
    first = (first or "").strip() or _month_back(last, DEFAULT_MONTHS - 1)
    for value in (first, last):
        if not MONTH.match(value):
            raise Invalid("month_invalid", "Tháng phải có dạng YYYY-MM (ví dụ 2026-03)",
                          "The month must look like YYYY-MM (e.g. 2026-03)")
    if first > last:
        raise Invalid("months_reversed", "Tháng bắt đầu sau tháng kết thúc", "The first month is after the last")
    if len(months_between(first, last)) > MAX_MONTHS:
        raise Invalid("months_too_many", f"Xem tối đa {MAX_MONTHS} tháng một lần",
                      f"Show at most {MAX_MONTHS} months at a time")
    chosen = [by_id[v] for v in dict.fromkeys(villages)] if villages else mine
    return Filters(chosen, list(dict.fromkeys(villages)), kinds, first, last)


def load(session: Session, commune_id: int, filters: Filters, tz: ZoneInfo) -> Overview:
    return commune_overview(session, commune_id, [v.id for v in filters.villages], filters.first, filters.last, tz,
                            filters.kinds or None)


def cell_dict(cell: Cell) -> dict:
    return {"minutes": round(cell.minutes, 1), "minutes_interrupted": round(cell.minutes_interrupted, 1),
            **{name: getattr(cell, name) for name in OUTCOMES}}


def to_json(commune_id: int, filters: Filters, ov: Overview) -> dict:
    names = {v.id: v.name for v in filters.villages}
    rows = [{"village_id": vid, "village": names.get(vid, ""), "month": month, "kind": kind, **cell_dict(cell)}
            for (vid, month, kind), cell in sorted(ov.cells.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))]
    return {
        "commune_id": commune_id, "first_month": filters.first, "last_month": filters.last, "months": ov.months,
        "villages": [{"id": v.id, "name": v.name} for v in filters.villages], "kinds": filters.kinds,
        "rows": rows,
        "by_kind": {k: cell_dict(c) for k, c in sorted(ov.by_kind().items())},
        "by_village": {str(k): cell_dict(c) for k, c in sorted(ov.by_village().items())},
        "by_month": {k: cell_dict(c) for k, c in sorted(ov.by_month().items())},
        "total": cell_dict(ov.total()),
    }


CSV_HEADERS = (N_("Village"), N_("Month"), N_("Kind"), N_("Minutes aired"), N_("Of which cut short (minutes)"),
               N_("Plays completed"), N_("Plays cut short"), N_("Plays failed"), N_("Plays skipped"),
               N_("Emergency plays after the stop"))


def to_csv(filters: Filters, ov: Overview, _: Callable[[str], str]) -> str:
    """One line per village, month and kind, headers and kinds in the page's language."""
    names = {v.id: v.name for v in filters.villages}
    buf = io.StringIO()
    w = csv_safe.writer(buf, lineterminator="\r\n")  # no cell a spreadsheet would run as a formula
    w.writerow([_(h) for h in CSV_HEADERS])
    for (vid, month, kind), c in sorted(ov.cells.items(), key=lambda kv: (kv[0][1], names.get(kv[0][0], ""), kv[0][2])):
        w.writerow([names.get(vid, ""), month, _(OVERVIEW_KIND_LABELS.get(kind, kind)), f"{c.minutes:.1f}",
                    f"{c.minutes_interrupted:.1f}", *(getattr(c, name) for name in OUTCOMES)])
    return buf.getvalue()


# ------------------------------------------------------------------ SVG bar charts (no script, CSP-safe)

ROW_H = 38
LABEL_H = 14
WIDTH = 340


def stacked_bars(chart_id: str, title: str, rows: list[tuple[str, list[tuple[str, float]]]],
                 kind_label: Callable[[str], str], unit: str) -> Markup:
    """Horizontal bars, one per row, split by kind: the row's name above its bar, the total at its end.
    Every piece has a <title> (read by screen readers, shown on long press); the figures are also in the
    table under the chart. Colours are attributes, not styles: the page's CSP needs no exception."""
    top = max((sum(v for _, v in parts) for _, parts in rows), default=0.0)
    height = max(1, len(rows)) * ROW_H + 4
    out = [f'<svg class="chart-svg" id="{chart_id}" role="img" aria-labelledby="{chart_id}-t" '
           f'viewBox="0 0 {WIDTH} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{chart_id}-t">{escape(title)}</title>']
    bar_w = WIDTH - 70
    for i, (label, parts) in enumerate(rows):
        y = i * ROW_H
        total = sum(v for _, v in parts)
        out.append(f'<g><text x="0" y="{y + LABEL_H - 2}" font-size="12">{escape(label)}</text>')
        x = 0.0
        for kind, value in parts:
            if value <= 0 or top <= 0:
                continue
            w = bar_w * value / top
            out.append(f'<rect x="{x:.1f}" y="{y + LABEL_H + 2}" width="{max(w, 1):.1f}" height="16" '
                       f'fill="{COLOURS.get(kind, "#757575")}"><title>{escape(label)} · {escape(kind_label(kind))}: '
                       f'{value:.1f} {escape(unit)}</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + LABEL_H + 15}" font-size="12">{total:.1f} {escape(unit)}</text></g>')
    if not rows:
        out.append('<text x="0" y="20" font-size="12">–</text>')
    out.append("</svg>")
    return Markup("".join(out))


def legend(kinds: list[str], kind_label: Callable[[str], str]) -> Markup:
    items = "".join(f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
                    f'fill="{COLOURS.get(k, "#757575")}"/></svg> {escape(kind_label(k))}</li>' for k in kinds)
    return Markup(f'<ul class="legend">{items}</ul>')
