"""Bulletin pages (issue 16): province and district staff compose, approve, send, follow and read the roll-up;
a commune's cadre works the inbox. Thin over `schedules.bulletins` (the same services as /api/v1)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from api.bulletins import views
from api.bulletins.recording import receive_bulletin_recording
from api.deps import Id
from api.web.bulletin_words import LEVEL_LABELS
from api.web.choices import N_
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.web.session import check_csrf, now_of, require_principal
from broadcaster.station.bulletin_air import aired_by_device
from content.library.upload import check_declared_type
from loa.db import session_scope
from loa.errors import DomainError, Invalid
from loa.org import areas
from loa.org import service as org
from schedules.bulletins import compose, inbox, rollup, service, tracking
from schedules.bulletins.schemas import AcceptIn, BulletinEdit, BulletinTextIn, OrderIn, SendIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)
STATE_LABELS = {"sent": N_("Sent"), "received": N_("Received"), "scheduled": N_("Scheduled"), "aired": N_("Aired"),
                "refused": N_("Refused"), "expired": N_("Expired"), "superseded": N_("Superseded")}
STATUS_LABELS = {"draft": N_("Draft"), "submitted": N_("Waiting for approval"), "approved": N_("Approved"),
                 "rejected": N_("Rejected"), "sent": N_("Sent")}


def _labels(request: Request) -> dict:
    """The words for states, statuses and levels, in the page's language."""
    _ = gettext_for(request)
    return {"state_labels": {k: _(v) for k, v in STATE_LABELS.items()},
            "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
            "level_labels": {k: _(v) for k, v in LEVEL_LABELS.items()}}
Text = Annotated[str, Form(max_length=20000)]
Short = Annotated[str, Form(max_length=300)]


def _message(request: Request, exc: DomainError) -> str:
    return exc.message_en if page_lang(request) == "en" else exc.message_vi


def _area_page(request: Request, level: str, area_id: int, error: str | None = None, status: int = 200):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        area = areas.visible_area(s, user, level, area_id)
        mine = areas.my_areas(s, user)
        bulletins = compose.list_bulletins(s, user, area)
        districts = areas.districts_of(s, area)
        communes = areas.communes_of(s, area)
        role = next((r.role for r in areas.roles_of(s, user.user_id) if (r.level, r.area_id) == (level, area_id)), None)
    return render(request, "bulletins.html", **_labels(request), status=status, area=area, areas=mine,
                  bulletins=bulletins,
                  districts=districts, communes=communes, role=role, error=error,
                  title=gettext_for(request)("Bulletins"))


@router.get("/app/bulletins")
def bulletins_home(request: Request):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        mine = areas.my_areas(s, user)
    if not mine:
        return render(request, "bulletins.html", **_labels(request), area=None, areas=[], bulletins=[], districts=[],
                      communes=[],
                      role=None, error=None, title=gettext_for(request)("Bulletins"))
    return RedirectResponse(f"/app/bulletins/{mine[0].level}/{mine[0].id}", status_code=303)


@router.get("/app/bulletins/{level}/{area_id}")
def area_page(request: Request, level: views.LevelPath, area_id: Id):
    return _area_page(request, level, area_id)


@router.post("/app/bulletins/{level}/{area_id}/compose")
def compose_page(request: Request, level: views.LevelPath, area_id: Id, csrf: Annotated[str, Form(max_length=200)],
                 title: Short = "", text: Text = "", language: Annotated[str, Form(max_length=35)] = "vi"):
    user = require_principal(request)
    check_csrf(request, csrf)
    try:
        body = BulletinTextIn(title=title, text=text, language=language or "vi")
    except ValueError:
        return _area_page(request, level, area_id, Invalid("form_invalid", "Hãy nhập tiêu đề và nội dung",
                                                           "Enter a title and the text").message_vi, 422)
    try:
        with session_scope(request.app.state.engine) as s:
            area = areas.visible_area(s, user, level, area_id)
            row = compose.create_text(s, user, area, body, views.renderer(request.app.state.settings), now_of(request))
            bulletin_id = row.id
    except DomainError as exc:
        return _area_page(request, level, area_id, _message(request, exc), 422 if exc.status == 400 else exc.status)
    return RedirectResponse(f"/app/bulletin/{bulletin_id}", status_code=303)


@router.post("/app/bulletins/{level}/{area_id}/record")
def record_page(request: Request, level: views.LevelPath, area_id: Id, csrf: Annotated[str, Form(max_length=200)],
                file: Annotated[UploadFile, File()], title: Short = "",
                language: Annotated[str, Form(max_length=35)] = "vi", transcript: Text = ""):
    """A recording (any language, with its words if written down) instead of a text."""
    user = require_principal(request)
    check_csrf(request, csrf)
    try:
        if not title.strip():
            raise Invalid("title_required", "Hãy nhập tiêu đề", "Enter a title")
        check_declared_type(file.content_type)
        row = receive_bulletin_recording(request.app.state.engine, request.app.state.settings, user, level, area_id,
                                         title, language or "vi", transcript or None, file.file, now_of(request))
    except DomainError as exc:
        return _area_page(request, level, area_id, _message(request, exc), 422 if exc.status == 400 else exc.status)
    return RedirectResponse(f"/app/bulletin/{row.id}", status_code=303)


def _local_day_end(value: str, now: datetime) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid("expiry_invalid", "Hạn phải là một ngày", "The expiry must be a date") from None
    return datetime.combine(day, time(23, 59), now.tzinfo)


@router.post("/app/bulletin/{bulletin_id}/{action}")
def bulletin_action(request: Request, bulletin_id: Id, action: str, csrf: Annotated[str, Form(max_length=200)],
                    audio_sha256: Annotated[str, Form(max_length=64)] = "", reason: Short = "",
                    level: Annotated[str, Form(max_length=10)] = "normal",
                    expires: Annotated[str, Form(max_length=10)] = "",
                    communes: Annotated[list[str], Form()] = [],  # noqa: B006 (read only)
                    districts: Annotated[list[str], Form()] = [],  # noqa: B006 (read only)
                    title: Short = "", text: Text = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    sent = None
    try:
        with session_scope(request.app.state.engine) as s:
            if action == "submit":
                compose.submit(s, user, bulletin_id, now)
            elif action == "approve":
                compose.approve(s, user, bulletin_id, audio_sha256, now)
            elif action == "reject":
                compose.reject(s, user, bulletin_id, reason, now)
            elif action == "edit":
                body = BulletinEdit(title=title.strip() or None, text=text.strip() or None)
                compose.edit(s, user, bulletin_id, body, views.renderer(request.app.state.settings), now)
            elif action == "send":
                body = SendIn(level=level if level in ("normal", "priority", "emergency") else "normal",
                              expires_at=_local_day_end(expires, now),
                              communes=[int(c) for c in communes if c.isdigit()][:5000],
                              districts=[int(d) for d in districts if d.isdigit()][:500])
                sent = service.send(s, user, bulletin_id, body, now, views.remote_route())
            else:
                raise Invalid("action_invalid", "Việc không hợp lệ", "Unknown action")
    except DomainError as exc:
        return _bulletin_page(request, bulletin_id, _message(request, exc), 422 if exc.status == 400 else exc.status)
    if sent is not None:
        service.after_commit(request.app.state.schedules, sent.local, now)
    return RedirectResponse(f"/app/bulletin/{bulletin_id}", status_code=303)


def _bulletin_page(request: Request, bulletin_id: int, error: str | None = None, status: int = 200):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        row, deliveries = tracking.tracking(s, user, bulletin_id, aired_by_device)
        area = compose.area_of(s, row)
        role = next((r.role for r in areas.roles_of(s, user.user_id)
                     if (r.level, r.area_id) == (area.level, area.id)), None)
        districts, communes = areas.districts_of(s, area), areas.communes_of(s, area)
    default_expiry = (now_of(request) + timedelta(days=3)).date().isoformat()
    return render(request, "bulletin.html", **_labels(request), status=status, b=row, area=area,
                  deliveries=deliveries, role=role,
                  districts=districts, communes=communes, default_expiry=default_expiry, error=error,
                  can_approve=role == "approver" and user.user_id not in (row.changed_by or []),
                  title=row.title)


@router.get("/app/bulletin/{bulletin_id}")
def bulletin_page(request: Request, bulletin_id: Id):
    return _bulletin_page(request, bulletin_id)


@router.get("/app/bulletins/{level}/{area_id}/rollup")
def rollup_page(request: Request, level: views.LevelPath, area_id: Id, first: date | None = None,
                last: date | None = None, by: views.ByQ = "day"):
    user = require_principal(request)
    now = now_of(request)
    first, last = views.default_range(first, last, now)
    with session_scope(request.app.state.engine) as s:
        area = areas.visible_area(s, user, level, area_id)
        views.refresh_local_reports(s, area, first, last, now)
    with session_scope(request.app.state.engine) as s:
        data = rollup.area_rollup(s, user, level, area_id, first.isoformat(), last.isoformat(), by)
        charts = views.rollup_charts(data, gettext_for(request))
    return render(request, "bulletin_rollup.html", **_labels(request), r=data, charts=charts,
                  first=first.isoformat(),
                  last=last.isoformat(), by=by, title=gettext_for(request)("Reports up"))


# ---------------------------------------------------------------- the commune's inbox


def _inbox_page(request: Request, commune_id: int, error: str | None = None, status: int = 200):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        rows = inbox.list_inbox(s, user, commune_id, now_of(request))
        default_at = inbox.suggested_time(s, commune_id, now_of(request)).strftime("%Y-%m-%dT%H:%M")
    return render(request, "bulletin_inbox.html", **_labels(request), status=status, commune=commune, rows=rows,
                  error=error,
                  can_decide=user.role_in(commune_id) == "cadre", default_at=default_at,
                  title=gettext_for(request)("Bulletins from above"))


@router.get("/app/c/{commune_id}/inbox")
def inbox_page(request: Request, commune_id: Id):
    return _inbox_page(request, commune_id)


@router.post("/app/c/{commune_id}/inbox/{item_id}/{action}")
def inbox_action(request: Request, commune_id: Id, item_id: Id, action: str,
                 csrf: Annotated[str, Form(max_length=200)], at: Annotated[str, Form(max_length=20)] = "",
                 order: Annotated[str, Form(max_length=6)] = "after", reason: Short = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    try:
        with session_scope(request.app.state.engine) as s:
            if inbox.get_item(s, user, item_id).commune_id != commune_id:
                raise Invalid("inbox_mismatch", "Bản tin không thuộc xã này", "The bulletin is not this commune's")
            if action == "accept":
                try:
                    when = datetime.fromisoformat(at).replace(tzinfo=now.tzinfo)
                except ValueError:
                    raise Invalid("time_invalid", "Hãy chọn giờ phát", "Choose when it airs") from None
                row = inbox.accept(s, user, item_id, AcceptIn(at=when), now)
            elif action == "order":
                row = inbox.order(s, user, item_id, OrderIn(order=order if order in ("before", "after") else "after"),
                                  now)
            elif action == "refuse":
                row = inbox.refuse(s, user, item_id, reason, now)
            else:
                raise Invalid("action_invalid", "Việc không hợp lệ", "Unknown action")
    except DomainError as exc:
        return _inbox_page(request, commune_id, _message(request, exc), 422 if exc.status == 400 else exc.status)
    service.after_commit(request.app.state.schedules, [row], now)
    return RedirectResponse(f"/app/c/{commune_id}/inbox", status_code=303)
