"""Reports per village and month, with bar charts in plain CSS and a CSV export. Cadres and secretaries read
them (as GET /api/v1/communes/{id}/reports); a village head sees their own village."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Id
from api.web.reports import current_month, to_csv, village_month
from api.web.render import PageRoute, gettext_for, render
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
    _, _, _, chosen, month, report = _report(request, commune_id, village, month)
    if report is None:
        raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
    name = f"loa-report-village-{chosen.id}-{month}.csv"
    # A BOM so that spreadsheet programs on phones and office PCs read the Vietnamese letters as UTF-8.
    return Response("\ufeff" + to_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
