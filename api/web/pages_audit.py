"""The audit trail page (issue 14): who did what to which object and when, filtered by person, action, object
(type and id) and dates, 50 to a page, and the same selection as CSV.

The system admin reads every entry (or one commune's); a cadre reads their own commune's entries (the scoping
of loa.audit.service); anyone else gets 403, another commune 404. The CSV goes through loa.csv_safe (a name
like "=HYPERLINK(…)" must not run in a spreadsheet) and has headers in the page's language."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.web.audit_labels import OBJECTS, action_label, describe, object_label
from api.web.render import PageRoute, gettext_for, render
from api.web.session import require_principal
from loa import csv_safe
from loa.audit import service as audit
from loa.db import session_scope
from loa.errors import Invalid
from loa.org import service as org

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 50
Param = Annotated[str, Query(max_length=100)]


@dataclass
class Selection:
    """The filters as typed (to refill the form and build links) and as the service reads them."""

    raw: dict[str, str]
    filter: audit.AuditFilter
    tz: ZoneInfo


def _day(value: str, field_vi: str, field_en: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("date_invalid", f"{field_vi} phải là một ngày (năm-tháng-ngày, ví dụ 2026-03-02)",
                      f"{field_en} must be a date (year-month-day, e.g. 2026-03-02)") from None


def _select(request: Request, user, commune: str, person: str, action: str, object_type: str, object_id: str,
            since: str, until: str) -> Selection:
    commune_id = int(commune) if commune.strip().isdigit() else None
    if commune.strip() and commune_id is None:
        raise Invalid("commune_invalid", "Xã chọn không hợp lệ", "Invalid commune")
    if commune_id is None and not user.is_admin:
        # A cadre reads their commune's entries: the first commune where they are a cadre.
        commune_id = next((c for c in sorted(user.memberships) if user.role_in(c) == "cadre"), None)
        if commune_id is None:
            user.require_admin()
    tz = request.app.state.settings.tz
    if commune_id is not None:
        with session_scope(request.app.state.engine) as s:
            tz = ZoneInfo(org.get_commune(s, user, commune_id).timezone)
    first = _day(since, "Từ ngày", "From")
    last = _day(until, "Đến ngày", "To")
    if first and last and last < first:
        raise Invalid("dates_reversed", "Ngày kết thúc phải sau ngày bắt đầu", "The end date must be after the start")
    f = audit.AuditFilter(
        commune_id=commune_id, actor=person.strip() or None, action=action.strip() or None,
        object_type=object_type.strip() or None, object_id=object_id.strip() or None,
        since=datetime.combine(first, time(0), tz) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(0), tz) if last else None)
    raw = {"commune": str(commune_id) if commune_id is not None else "", "person": person.strip(),
           "action": action.strip(), "object_type": object_type.strip(), "object_id": object_id.strip(),
           "since": since.strip(), "until": until.strip()}
    return Selection(raw, f, tz)


def _query(raw: dict[str, str], **extra) -> str:
    return urlencode({k: v for k, v in {**raw, **extra}.items() if v not in ("", None)})


@router.get("/app/admin/audit")
def audit_page(request: Request, commune: Param = "", person: Param = "", action: Param = "",
               object_type: Param = "", object_id: Param = "", since: Param = "", until: Param = "",
               page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    user = require_principal(request)
    sel = _select(request, user, commune, person, action, object_type, object_id, since, until)
    _ = gettext_for(request)
    with session_scope(request.app.state.engine) as s:
        rows, total = audit.search(s, user, sel.filter, PER_PAGE, (page - 1) * PER_PAGE)
        actions, types, people = audit.facets(s, user, sel.filter.commune_id)
        communes = [c for c in org.list_communes(s, user) if user.is_admin or user.role_in(c.id) == "cadre"]
        names = {c.id: c.name for c in org.list_communes(s, user)}
        s.expunge_all()
    pages = max(1, -(-total // PER_PAGE))
    entries = [{"row": e, "action": action_label(e.action, _), "object": object_label(e.object_type, _),
                "detail": describe(e.detail, _)} for e in rows]
    return render(request, "org_audit.html", user=user, entries=entries, total=total, page=page, pages=pages,
                  sel=sel.raw, tz=str(sel.tz), communes=communes, commune_names=names,
                  actions=[(a, action_label(a, _)) for a in actions],
                  types=[(t, object_label(t, _)) for t in sorted(set(types) | ({sel.raw["object_type"]} - {""}))],
                  people=people, all_objects=OBJECTS,
                  prev_url=f"/app/admin/audit?{_query(sel.raw, page=page - 1)}" if page > 1 else None,
                  next_url=f"/app/admin/audit?{_query(sel.raw, page=page + 1)}" if page < pages else None,
                  csv_url=f"/app/admin/audit.csv?{_query(sel.raw)}", title=_("Audit trail"))


@router.get("/app/admin/audit.csv")
def audit_csv(request: Request, commune: Param = "", person: Param = "", action: Param = "",
              object_type: Param = "", object_id: Param = "", since: Param = "", until: Param = ""):
    user = require_principal(request)
    sel = _select(request, user, commune, person, action, object_type, object_id, since, until)
    _ = gettext_for(request)
    with session_scope(request.app.state.engine) as s:
        names = {c.id: c.name for c in org.list_communes(s, user)}
        audit.search(s, user, sel.filter, 1, 0)  # the permission check, before the response starts
    headers = [_("Time"), _("Person"), _("Address"), _("Action"), _("Action code"), _("Object"), _("Object id"),
               _("Commune"), _("Details")]

    def lines():
        # A BOM so that spreadsheets on phones and office PCs read the Vietnamese letters as UTF-8.
        buf = io.StringIO()
        writer = csv_safe.writer(buf)
        buf.write("\ufeff")
        writer.writerow(headers)
        with session_scope(request.app.state.engine) as s:
            for n, e in enumerate(audit.iter_matching(s, user, sel.filter)):
                writer.writerow([e.at.astimezone(sel.tz).strftime("%Y-%m-%d %H:%M:%S"), e.actor_username or "",
                                 e.ip or "", action_label(e.action, _), e.action, object_label(e.object_type, _),
                                 e.object_id or "", names.get(e.commune_id, e.commune_id or ""),
                                 describe(e.detail, _)])
                if n % 200 == 199:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    stamp = request.app.state.clock().astimezone(sel.tz).strftime("%Y%m%d-%H%M")
    scope = f"commune-{sel.filter.commune_id}" if sel.filter.commune_id else "all"
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="loa-audit-{scope}-{stamp}.csv"'})
