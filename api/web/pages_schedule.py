"""The schedule: a week calendar per village (what each loudspeaker will play, after priorities), the list of
schedules, and a form with presets whose conflicts are shown before saving (the schedules service's own check,
the same one behind POST /api/v1/communes/{id}/schedules/preview)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from sqlmodel import select

from api.deps import Id
from api.web.onair import attach_reports, village_now
from broadcaster.station.airviews import schedule_stop
from api.web.flash import flash_redirect
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.web.schedule_form import (PRESETS, ScheduleForm, programme_for, relay_programme, to_schedule,
                                   week_by_day)
from api.web.schedule_ways import propose
from api.web.session import check_csrf, now_of, require_principal
from content.library import service as library
from content.library.models import ContentItem, Status
from loa.db import session_scope
from loa.errors import DomainError, Invalid, NotFound
from loa.org import service as org
from schedules import rules_service as rules
from schedules import views
from schedules.limits import RecurrenceLimits
from schedules.mapping import schedule_key
from schedules.streams import service as stream_service

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RECENT_STOPS = timedelta(hours=6)  # how long a stopped schedule's confirmation stays on the page


def airable_items(s, user, commune_id: int, now) -> list[ContentItem]:
    rows = s.exec(select(ContentItem).where(ContentItem.commune_id == commune_id,
                                            ContentItem.status == Status.approved.value)
                  .order_by(ContentItem.id.desc()).limit(200))
    return [i for i in rows if library.is_airable(i, now) and library._visible(user, i)]


def partner_of(s, item: ContentItem, now) -> ContentItem | None:
    """The other half of a bilingual pair, if it may air too."""
    other = s.get(ContentItem, item.pair_item_id) if item.pair_item_id else s.exec(
        select(ContentItem).where(ContentItem.pair_item_id == item.id,
                                  ContentItem.status == Status.approved.value)).first()
    return other if other is not None and library.is_airable(other, now) else None


def _page_data(request: Request, commune_id: int, village: int | None, start: date | None) -> dict:
    user = require_principal(request)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        tz = ZoneInfo(commune.timezone)
        villages = org.list_villages(s, user, commune_id)
        chosen = next((v for v in villages if v.id == village), villages[0] if villages else None)
        if village is not None and (chosen is None or chosen.id != village):
            raise NotFound("village_not_found", "Không tìm thấy thôn", "Village not found")
        first = start or now.astimezone(tz).date()
        schedules = rules.list_schedules(s, user, commune_id)
        titles = {schedule_key(r.id): r.title for r in schedules}
        week, on_air = [], []
        if chosen is not None:
            tt = views.village_timetable(s, user, chosen.id, first, "week", now)
            week = week_by_day(tt, first, titles)
            # next to the plan, what the village's loudspeakers themselves report (now, and for begun slots)
            devices = [d for d in org.list_devices(s, user, commune_id) if d.village_id == chosen.id]
            attach_reports(s, week, devices, now)
            on_air = village_now(s, devices, now, request.app.state.settings.device_offline_after_s)
        # schedules stopped while on air: "đang dừng…" until the loudspeakers that were playing them confirm
        stops = [x for r in rules.list_schedules(s, user, commune_id, include_cancelled=True)
                 if r.cancelled_at is not None and r.cancelled_at >= now - RECENT_STOPS
                 and (x := schedule_stop(s, r, now)) is not None]
        items = airable_items(s, user, commune_id, now)
        relay_streams = stream_service.for_commune(s, user, commune_id)
        pairs = {i.id: p.title for i in items if (p := partner_of(s, i, now)) is not None}
        # what the station had to change on its own (an item expired or was archived, so a schedule lost it)
        notices = rules.list_notices(s, user, commune_id, limit=10) \
            if user.is_admin or user.role_in(commune_id) in rules.PREVIEWERS else []
    return dict(relay_streams=relay_streams, stops=stops, on_air=on_air, notices=notices, commune=commune, user=user, villages=villages, village=chosen, week=week, first=first,
                prev=first - timedelta(days=7), next=first + timedelta(days=7), last=first + timedelta(days=6),
                schedules=schedules,
                items=items, pairs=pairs, presets=list(PRESETS), today=now.astimezone(tz).date(), now=now,
                can_edit=user.role_in(commune_id) == "cadre", title=gettext_for(request)("Schedule"))


@router.get("/app/c/{commune_id}/schedule")
def schedule_page(request: Request, commune_id: Id, village: int | None = None, start: date | None = None):
    data = _page_data(request, commune_id, village, start)
    # No village is ticked for the cadre: the targets are chosen on purpose, at the top of the form (a village
    # ticked because its calendar was shown above once sent a one-off to the wrong village).
    form = ScheduleForm(start_date=data["today"].isoformat(), villages=[])
    return render(request, "schedule.html", form=form, **data)


@router.post("/app/c/{commune_id}/schedule")
def schedule_save(request: Request, commune_id: Id, csrf: Annotated[str, Form(max_length=200)],
                  title: Annotated[str, Form(max_length=300)] = "", item_id: Annotated[str, Form(max_length=12)] = "",
                  with_pair: Annotated[str, Form(max_length=4)] = "",
                  preset: Annotated[str, Form(max_length=16)] = "daily_6_17",
                  times: Annotated[str, Form(max_length=200)] = "",
                  start_date: Annotated[str, Form(max_length=10)] = "",
                  until_date: Annotated[str, Form(max_length=10)] = "",
                  whole_commune: Annotated[str, Form(max_length=4)] = "",
                  villages: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI reads it, never mutates)
                  priority: Annotated[str, Form(max_length=16)] = "normal",
                  repeat: Annotated[str, Form(max_length=3)] = "1",
                  action: Annotated[str, Form(max_length=8)] = "check",
                  stream_id: Annotated[str, Form(max_length=12)] = "",
                  relay_minutes: Annotated[str, Form(max_length=8)] = "30"):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    form = ScheduleForm(title=title, item_id=item_id, with_pair=bool(with_pair), preset=preset, times=times,
                        start_date=start_date, until_date=until_date, whole_commune=bool(whole_commune),
                        villages=villages[:500], priority=priority, repeat=repeat,
                        stream_id=stream_id, relay_minutes=relay_minutes)
    first_village = int(form.villages[0]) if form.villages and form.villages[0].isdigit() else None
    english = page_lang(request) == "en"
    report = error = None
    ways: list = []
    status = 200
    limits = RecurrenceLimits.from_settings(request.app.state.settings)
    try:
        with session_scope(request.app.state.engine) as s:
            commune = org.get_commune(s, user, commune_id)
            user.require_role(commune_id, *rules.SCHEDULERS)
            if stream_id.strip():  # relay a stream from the admin's list instead of an announcement
                if item_id.strip():
                    raise Invalid("schedule_form", "Chọn một thông báo hoặc một đài tiếp sóng, không chọn cả hai",
                                  "Choose an announcement or a station to relay, not both")
                stream = stream_service.get_for_commune(s, user, commune_id, int(stream_id)) \
                    if stream_id.isdigit() else None
                if stream is None:
                    raise NotFound("stream_not_found", "Không tìm thấy luồng tiếp sóng", "Relay stream not found")
                programme = relay_programme(stream.name, stream.url, form.relay_minutes)
                if not form.title.strip():
                    form.title = f"{stream.name}"
            elif not item_id.strip():
                raise Invalid("schedule_form", "Hãy chọn một thông báo đã duyệt hoặc một đài tiếp sóng",
                              "Choose an approved announcement or a station to relay")
            else:
                item = library.get_item(s, user, int(item_id)) if item_id.isdigit() else None
                if item is None or item.commune_id != commune_id:
                    raise NotFound("content_not_found", "Hãy chọn một thông báo đã duyệt",
                                   "Choose an approved announcement")
                programme = programme_for(item, partner_of(s, item, now), form.with_pair)
                if not form.title.strip():
                    form.title = item.title
            tz = ZoneInfo(commune.timezone)
            today = now.astimezone(tz).date()
            body = to_schedule(form, programme, tz, today)
            report = rules.preview(s, user, commune_id, body, now, limits=limits)
            if report.refused and not report.problems:  # an overlap: offer a way forward, checked
                ways = propose(s, user, commune_id, form, programme, tz, today, now, limits, report)
                status = 409 if action == "save" else 200
                action = "check"
            if action == "save":
                row, _ = rules.create_schedule(s, user, commune_id, body, now, limits)
                saved = row.id
    except DomainError as exc:
        if exc.status == 404 and exc.code in ("commune_not_found", "not_found"):
            raise
        error = exc.message_en if english else exc.message_vi
        status = exc.status
    else:
        if action == "save":
            request.app.state.schedules.materialize_commune(commune_id, now)
            target = f"/app/c/{commune_id}/schedule?saved={saved}"
            if first_village:
                target += f"&village={first_village}"
            return flash_redirect(target, "schedule_saved", request.app.state.settings.cookie_secure)
    data = _page_data(request, commune_id, first_village, None)
    return render(request, "schedule.html", status=status, form=form, report=report, error=error, ways=ways,
                  **data)


@router.post("/app/schedules/{schedule_id}/cancel")
def schedule_cancel(request: Request, schedule_id: Id, csrf: Annotated[str, Form(max_length=200)],
                    confirmed: Annotated[str, Form(max_length=4)] = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    if confirmed != "1":  # stopping cannot be undone: ask first, on the server (works without JavaScript)
        return _ask_to_stop(request, user, schedule_id)
    with session_scope(request.app.state.engine) as s:
        row = rules.cancel_schedule(s, user, schedule_id, now)
        commune_id = row.commune_id
    request.app.state.schedules.materialize_commune(commune_id, now, stopped=[f"s{schedule_id}"])
    return flash_redirect(f"/app/c/{commune_id}/schedule", "schedule_stopped", request.app.state.settings.cookie_secure)


def _ask_to_stop(request: Request, user, schedule_id: int):
    from api.web.flash import confirm_context
    from loa.errors import Conflict

    _ = gettext_for(request)
    with session_scope(request.app.state.engine) as s:
        row = rules.get_schedule(s, user, schedule_id)
        user.require_role(row.commune_id, *rules.SCHEDULERS)
        if row.cancelled_at is not None:
            raise Conflict("schedule_cancelled", "Lịch này đã dừng rồi", "This schedule is already stopped")
        commune = org.get_commune(s, user, row.commune_id)
    context = confirm_context(f"/app/schedules/{schedule_id}/cancel", _("Stop this schedule?"), row.title,
                              _("None of its plays will air any more, on every loudspeaker it targets; one "
                                "playing now is cut off. This cannot be undone: to air it again, make a new "
                                "schedule."),
                              "■ " + _("Yes, stop it"), f"/app/c/{row.commune_id}/schedule#schedule-{schedule_id}")
    return render(request, "confirm.html", commune=commune, user=user, **context)
