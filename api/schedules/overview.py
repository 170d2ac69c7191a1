"""GET /api/v1/communes/{id}/reports/overview: the commune overview across villages and months (issue 14),
the same figures as the page /app/c/{id}/reports/overview (from the loudspeakers' play records)."""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from api.deps import Auth, Context, Id
from api.errors import responses
from api.web.report_overview import load, parse_filters, to_json
from loa.db import session_scope
from loa.org import service as org

router = APIRouter(prefix="/api/v1", tags=["station"])


@router.get("/communes/{commune_id}/reports/overview", responses=responses(401, 404, 422),
            summary="Minutes aired per village, month and kind, with plays completed, cut short, failed "
                    "(members; a village head sees their own village)")
def overview(commune_id: Id, principal: Auth, ctx: Context,
             village: list[int] = Query([], max_length=500, description="village ids (none: all)"),
             kind: list[str] = Query([], max_length=20, description="emergency, directive, guidance, news, "
                                     "chime, music, relay, other (none: all)"),
             first: str | None = Query(None, alias="from", description="first month YYYY-MM (default: 5 months "
                                       "before `to`)"),
             last: str | None = Query(None, alias="to", description="last month YYYY-MM (default: this month)"),
             ) -> dict[str, Any]:
    with session_scope(ctx.engine) as s:
        commune = org.get_commune(s, principal, commune_id)
        tz = ZoneInfo(commune.timezone)
        filters = parse_filters(s, principal, commune_id, village, kind, first, last, ctx.now, tz)
        return to_json(commune_id, filters, load(s, commune_id, filters, tz))
