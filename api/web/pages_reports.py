"""Reports per village and month, with bar charts in plain CSS and a CSV export. Cadres and secretaries read
them (as GET /api/v1/communes/{id}/reports); a village head sees their own village."""
from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import Id
from api.web.reports import current_month, to_csv, village_month
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.web.session import now_of, require_principal
from loa.db import session_scope
from loa.errors import Invalid, NotFound
from loa.org import service as org

router = APIRouter(route_class=PageRoute, include_in_schema=False)
_MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


def _report(request: Request, commune_id: int, village: int | None, month: str | None):
    user = require_principal(request)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        tz = ZoneInfo(commune.timezone)
        month = month or current_month(now, tz)
        if not _MONTH.match(month):
            raise Invalid("month_invalid", "Tháng phải có dạng YYYY-MM", "The month must look like YYYY-MM")
        villages = org.list_villages(s, user, commune_id)
        chosen = next((v for v in villages if v.id == village), villages[0] if villages and village is None else None)
        if chosen is None and village is not None:
            raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
        report = village_month(s, chosen, month, tz, now) if chosen else None
    return user, commune, villages, chosen, month, report


@router.get("/app/c/{commune_id}/reports")
def reports_page(request: Request, commune_id: Id, village: int | None = None, month: str | None = None):
    user, commune, villages, chosen, month, report = _report(request, commune_id, village, month)
    return render(request, "reports.html", commune=commune, user=user, villages=villages, village=chosen,
                  month=month, report=report, title=gettext_for(request)("Reports"))


@router.get("/app/c/{commune_id}/reports.csv")
def reports_csv(request: Request, commune_id: Id, village: int | None = None, month: str | None = None) -> Response:
    *_unused, chosen, month, report = _report(request, commune_id, village, month)
    if report is None:
        raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
    name = f"loa-report-village-{chosen.id}-{month}.csv"
    # A BOM so that spreadsheet programs on phones and office PCs read the Vietnamese letters as UTF-8.
    return Response("\ufeff" + to_csv(report, gettext_for(request), page_lang(request)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ------------------------------------------------------------------ the commune overview (issue 14)


def _overview(request: Request, commune_id: int, village: list[str], kind: list[str], first: str | None,
              last: str | None):
    from api.web.report_overview import load, parse_filters, village_ids

    user = require_principal(request)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        tz = ZoneInfo(commune.timezone)
        every_village = org.list_villages(s, user, commune_id)
        filters = parse_filters(s, user, commune_id, village_ids(village), kind, first, last, now, tz)
        overview = load(s, commune_id, filters, tz)
    return user, commune, every_village, filters, overview


@router.get("/app/c/{commune_id}/reports/overview")
def overview_page(request: Request, commune_id: Id, village: Annotated[list[str], Query(max_length=500)] = [],  # noqa: B006
                  kind: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
                  first: Annotated[str | None, Query(alias="from", max_length=7)] = None,
                  last: Annotated[str | None, Query(alias="to", max_length=7)] = None):
    from api.web.report_overview import COLOURS, KINDS, OVERVIEW_KIND_LABELS, legend, stacked_bars

    user, commune, every_village, filters, ov = _overview(request, commune_id, village, kind, first, last)
    _ = gettext_for(request)

    def label(k: str) -> str:
        return _(OVERVIEW_KIND_LABELS.get(k, k))

    kinds = ov.kinds
    unit = _("min")
    month_kind, village_kind = ov.by_month_kind(), ov.by_village_kind()
    by_month = [(m, [(k, month_kind[(m, k)].minutes) for k in kinds if (m, k) in month_kind]) for m in ov.months]
    by_village = [(v.name, [(k, village_kind[(v.id, k)].minutes) for k in kinds if (v.id, k) in village_kind])
                  for v in filters.villages]
    charts = {
        "month": stacked_bars("chart-month", _("Minutes aired per month, by kind"), by_month, label, unit),
        "village": stacked_bars("chart-village", _("Minutes aired per village, by kind"), by_village, label, unit),
        "legend": legend(kinds, label),
    }
    query = [("village", v) for v in filters.village_ids] + [("kind", k) for k in filters.kinds] + \
        [("from", filters.first), ("to", filters.last)]
    return render(request, "reports_overview.html", commune=commune, user=user, villages=every_village,
                  filters=filters, ov=ov, charts=charts, kinds=kinds, all_kinds=KINDS, label=label,
                  colours=COLOURS, csv_query=urlencode(query), title=_("Commune overview"))


@router.get("/app/c/{commune_id}/reports/overview.csv")
def overview_csv(request: Request, commune_id: Id, village: Annotated[list[str], Query(max_length=500)] = [],  # noqa: B006
                 kind: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
                 first: Annotated[str | None, Query(alias="from", max_length=7)] = None,
                 last: Annotated[str | None, Query(alias="to", max_length=7)] = None) -> Response:
    from api.web.report_overview import to_csv

    _, commune, _v, filters, ov = _overview(request, commune_id, village, kind, first, last)
    name = f"loa-overview-{commune.id}-{filters.first}-{filters.last}.csv"
    # A BOM so that spreadsheet programs on phones and office PCs read the Vietnamese letters as UTF-8.
    return Response("\ufeff" + to_csv(filters, ov, gettext_for(request)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
