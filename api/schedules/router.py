"""Schedules API: CRUD with a conflict check on save, a preview, timetables of a device or a village for a day
or a week, a village's iCalendar export, and the notices the cadre must read.

Every save or cancel re-materializes the commune's stored timetable at once (devices are nudged through the
ScheduleService listeners), so nothing waits for the scheduler's next tick."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import Auth, Context, Id
from api.errors import responses
from api.schedules.air import ScheduleStopOut, schedule_stop_out
from loa.db import session_scope
from loa.errors import Invalid
from schedules import rules_service as rules
from schedules.limits import RecurrenceLimits
from schedules import views
from schedules.schemas import CheckOut, NoticeOut, SaveOut, ScheduleIn, ScheduleOut, TimetableOut
from schedules.service import ScheduleService

router = APIRouter(prefix="/api/v1", tags=["schedules"])
R = responses
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def schedule_service(request: Request) -> ScheduleService:
    return request.app.state.schedules


Service = Annotated[ScheduleService, Depends(schedule_service)]
DateQ = Annotated[date | None, Query(description="local day YYYY-MM-DD (default: today)")]
SpanQ = Annotated[Literal["day", "week"], Query(description="one day or seven days from `date`")]


def _day(value: date | None) -> date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise Invalid("date_out_of_range", "Ngày phải trong khoảng 2000–2100", "The date must be within 2000–2100")
    return value


@router.get("/communes/{commune_id}/schedules", response_model=list[ScheduleOut], responses=R(401, 404, 422),
            summary="Schedules of a commune (a village head sees those reaching their village)")
def list_schedules(commune_id: Id, principal: Auth, ctx: Context, include_cancelled: bool = False) -> list[ScheduleOut]:
    with session_scope(ctx.engine) as s:
        return [rules.schedule_out(s, r) for r in rules.list_schedules(s, principal, commune_id, include_cancelled)]


@router.post("/communes/{commune_id}/schedules", response_model=SaveOut, status_code=201,
             responses=R(401, 403, 404, 409, 422),
             summary="Create a schedule (cadre). 409 names same-priority overlaps; other overlaps are "
                     "resolved by priority and listed")
def create_schedule(commune_id: Id, body: ScheduleIn, principal: Auth, ctx: Context, svc: Service) -> SaveOut:
    with session_scope(ctx.engine) as s:
        row, report = rules.create_schedule(s, principal, commune_id, body, ctx.now,
                                            RecurrenceLimits.from_settings(ctx.settings))
    svc.materialize_commune(commune_id, ctx.now)
    with session_scope(ctx.engine) as s:
        return SaveOut(schedule=rules.schedule_out(s, row), resolved_by_priority=report.resolved_by_priority,
                       warnings=report.warnings)


@router.post("/communes/{commune_id}/schedules/preview", response_model=CheckOut,
             responses=R(401, 403, 404, 422),
             summary="Check a schedule for conflicts without saving (schedule_id: as an edit of that one)")
def preview_schedule(commune_id: Id, body: ScheduleIn, principal: Auth, ctx: Context,
                     schedule_id: int | None = Query(None, ge=1, le=2_147_483_647)) -> CheckOut:
    with session_scope(ctx.engine) as s:
        return rules.preview(s, principal, commune_id, body, ctx.now, schedule_id,
                             RecurrenceLimits.from_settings(ctx.settings))


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut, responses=R(401, 404),
            summary="One schedule, with `warnings` (items expired or archived, …)")
def get_schedule(schedule_id: Id, principal: Auth, ctx: Context) -> ScheduleOut:
    with session_scope(ctx.engine) as s:
        return rules.schedule_out(s, rules.get_schedule(s, principal, schedule_id))


@router.put("/schedules/{schedule_id}", response_model=SaveOut, responses=R(401, 403, 404, 409, 422),
            summary="Replace a schedule (cadre); its version goes up; same conflict rules as create")
def update_schedule(schedule_id: Id, body: ScheduleIn, principal: Auth, ctx: Context, svc: Service) -> SaveOut:
    with session_scope(ctx.engine) as s:
        row, report = rules.update_schedule(s, principal, schedule_id, body, ctx.now,
                                            RecurrenceLimits.from_settings(ctx.settings))
    svc.materialize_commune(row.commune_id, ctx.now)
    with session_scope(ctx.engine) as s:
        return SaveOut(schedule=rules.schedule_out(s, row), resolved_by_priority=report.resolved_by_priority,
                       warnings=report.warnings)


@router.delete("/schedules/{schedule_id}", status_code=204, responses=R(401, 403, 404),
               summary="Cancel a schedule now (cadre): the play on air is cut, later plays vanish")
def cancel_schedule(schedule_id: Id, principal: Auth, ctx: Context, svc: Service) -> Response:
    with session_scope(ctx.engine) as s:
        row = rules.cancel_schedule(s, principal, schedule_id, ctx.now)
    svc.materialize_commune(row.commune_id, ctx.now, stopped=[f"s{row.id}"])
    return Response(status_code=204)


@router.get("/schedules/{schedule_id}/stop", response_model=ScheduleStopOut, responses=R(401, 404),
            summary="After a stop: has each loudspeaker that was playing it confirmed? (from their own reports)")
def schedule_stop_status(schedule_id: Id, principal: Auth, ctx: Context) -> ScheduleStopOut:
    with session_scope(ctx.engine) as s:
        return schedule_stop_out(s, rules.get_schedule(s, principal, schedule_id), ctx.now)


@router.get("/communes/{commune_id}/schedule-notices", response_model=list[NoticeOut],
            responses=R(401, 403, 404, 422), summary="What the cadre must know about the commune's schedules")
def list_notices(commune_id: Id, principal: Auth, ctx: Context,
                 limit: int = Query(100, ge=1, le=500)) -> list[NoticeOut]:
    with session_scope(ctx.engine) as s:
        return [rules.notice_out(n) for n in rules.list_notices(s, principal, commune_id, limit)]


@router.get("/devices/{device_id}/timetable", response_model=TimetableOut, responses=R(401, 404, 422),
            tags=["timetable"], summary="What a device plays on a day or a week")
def device_timetable(device_id: Id, principal: Auth, ctx: Context, date: DateQ = None,
                     span: SpanQ = "day") -> TimetableOut:
    with session_scope(ctx.engine) as s:
        return views.device_timetable(s, principal, device_id, _day(date), span, ctx.now)


@router.get("/villages/{village_id}/timetable", response_model=TimetableOut, responses=R(401, 404, 422),
            tags=["timetable"], summary="What each device of a village plays on a day or a week")
def village_timetable(village_id: Id, principal: Auth, ctx: Context, date: DateQ = None,
                      span: SpanQ = "day") -> TimetableOut:
    with session_scope(ctx.engine) as s:
        return views.village_timetable(s, principal, village_id, _day(date), span, ctx.now)


@router.get("/villages/{village_id}/calendar.ics", response_class=Response, tags=["timetable"],
            responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}},
                             "description": "RFC 5545 calendar"}, **R(401, 404, 422)},
            summary="The village's broadcasts as iCalendar (from `date`, `days` days)")
def village_calendar(village_id: Id, principal: Auth, ctx: Context, date: DateQ = None,
                     days: int = Query(views.ICS_DAYS, ge=1, le=31)) -> Response:
    with session_scope(ctx.engine) as s:
        text = views.village_ics(s, principal, village_id, _day(date), days, ctx.now)
    return Response(text.encode("utf-8"), media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="village-{village_id}.ics"'})
