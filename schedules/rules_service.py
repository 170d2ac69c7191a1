"""Schedules as the cadre sees them: create, edit, cancel, read, and check conflicts before saving.

Who may do what (commune roles of issue 3):
- cadre: create, edit, cancel schedules; preview conflicts;
- secretary: read every schedule of the commune and preview (drafting a plan for the cadre);
- village head: read the schedules that reach their village (commune-wide, their village, or one of its
  devices); another village's schedule answers 404;
- system admin: read everything, write nothing (not a member of the commune);
- anyone of another commune: 404.

Only approved, unexpired items with audio may be put in a programme (422 `content_not_schedulable`). That
includes items made from a CAP alert: until a normal two-person review they air only in their own alert's
emergency (reason `cap_unreviewed`), and every schedule and hand-started emergency is checked here.
An overlap with a schedule of the same priority is refused (409 `schedule_conflict`, naming them); an
overlap with a different priority is saved and reported as `resolved_by_priority`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from content.library.models import ContentItem
from content.guards.relative_days import stale_words_warning
from content.library.service import is_airable
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Device
from loa.org.service import get_commune, village_in_commune
from schedules import mapping
from schedules.conflicts import Conflict as RuleConflict
from schedules.conflicts import ConflictReport, Resolution, check_conflicts
from schedules.limits import RecurrenceLimitError, RecurrenceLimits, check_device_load, check_recurrence
from schedules.schemas import CheckOut, ConflictOut, Entry, NoticeOut, ScheduleIn, ScheduleOut, TargetsOut
from schedules.store import unavailable_reason
from schedules.tables import ScheduleNotice, ScheduleRule, saved_id, saved_ids

SCHEDULERS = ("cadre",)
PREVIEWERS = ("cadre", "secretary")
CONFLICT_HORIZON = timedelta(days=62)  # a save is checked against two months of occurrences

_REASON_VI = {"expired": "đã hết hạn", "archived": "đã lưu trữ", "unapproved": "chưa được duyệt",
              "no_audio": "chưa có âm thanh", "missing": "không tồn tại",
              "cap_unreviewed": "lấy từ cảnh báo CAP, chỉ phát được trong cảnh báo đó cho đến khi một cán bộ khác duyệt"}
_REASON_EN = {"expired": "has expired", "archived": "is archived", "unapproved": "is not approved",
              "no_audio": "has no audio yet", "missing": "does not exist",
              "cap_unreviewed": "comes from a CAP alert: it airs only in that alert's emergency until another "
                                "cadre approves it"}


def _missing() -> NotFound:
    return NotFound("schedule_not_found", "Không tìm thấy lịch phát", "Schedule not found")


def _village_devices(session: Session, commune_id: int, village_id: int | None) -> set[int]:
    return set(saved_ids(session.exec(select(col(Device.id)).where(Device.commune_id == commune_id,
                                                                   Device.village_id == village_id))))


def reaches_village(session: Session, row: ScheduleRule, village_id: int | None) -> bool:
    return (row.target_commune or village_id in row.target_villages
            or bool(set(row.target_devices) & _village_devices(session, row.commune_id, village_id)))


def _visible(session: Session, actor: Principal, row: ScheduleRule) -> bool:
    if actor.is_admin:
        return True
    role = actor.role_in(row.commune_id)
    if role is None:
        return False
    if role == "village_head":
        return reaches_village(session, row, actor.village_in(row.commune_id))
    return True


def get_schedule(session: Session, actor: Principal, schedule_id: int) -> ScheduleRule:
    row = session.get(ScheduleRule, schedule_id)
    if row is None or not _visible(session, actor, row):
        raise _missing()
    return row


def list_schedules(session: Session, actor: Principal, commune_id: int,
                   include_cancelled: bool = False) -> list[ScheduleRule]:
    get_commune(session, actor, commune_id)
    query = select(ScheduleRule).where(ScheduleRule.commune_id == commune_id)
    if not include_cancelled:
        query = query.where(col(ScheduleRule.cancelled_at).is_(None))
    rows = session.exec(query.order_by(col(ScheduleRule.id))).all()
    return [r for r in rows if _visible(session, actor, r)]


# ---------------------------------------------------------------- validation


def _check_targets(session: Session, commune_id: int, body: ScheduleIn) -> None:
    t = body.targets
    if not (t.commune or t.villages or t.devices):
        raise Invalid("targets_empty", "Chưa chọn nơi phát (cả xã, thôn hoặc cụm loa)",
                      "Choose where it airs (the whole commune, villages or devices)")
    for v in t.villages:
        village_in_commune(session, commune_id, v)
    for d in t.devices:
        device = session.get(Device, d)
        if device is None or device.commune_id != commune_id:
            raise NotFound("device_not_found", "Không tìm thấy cụm loa", "Device not found")


def check_schedulable(session: Session, commune_id: int, entries: list[dict[str, Any]], now: datetime) -> None:
    """Only approved, unexpired items with audio may be scheduled; another commune's item is 404."""
    for e in entries:
        if e["type"] == "pair" and e["first"] == e["second"]:
            raise Invalid("pair_invalid", "Cặp song ngữ phải là hai nội dung khác nhau",
                          "A bilingual pair needs two different items")
    for cid in mapping.content_ids(entries):
        item = session.get(ContentItem, cid)
        if item is None or item.commune_id != commune_id:
            raise NotFound("content_not_found", "Không tìm thấy nội dung", "Content item not found")
        if not is_airable(item, now):
            reason = unavailable_reason(item, now)
            raise Invalid("content_not_schedulable",
                          f"Chỉ lên lịch được nội dung đã duyệt và còn hạn: «{item.title}» {_REASON_VI[reason]}",
                          f"Only approved, unexpired items can be scheduled: «{item.title}» {_REASON_EN[reason]}",
                          content_id=cid, reason=reason)


def _entries(body_programme: Iterable[Entry]) -> list[dict[str, Any]]:
    return [e.model_dump() for e in body_programme]


def _row_from(body: ScheduleIn, row: ScheduleRule) -> ScheduleRule:
    row.title = body.title.strip()
    row.priority = body.priority
    row.at = body.at
    row.rrule = body.rrule.strip() if body.rrule else None
    row.dtstart = body.starts_at
    row.times = list(body.times)
    row.target_commune = body.targets.commune
    row.target_villages = sorted(set(body.targets.villages))
    row.target_devices = sorted(set(body.targets.devices))
    row.programme = _entries(body.programme)
    row.repeat = body.repeat
    row.valid_from, row.valid_until, row.max_delay_s = body.valid_from, body.valid_until, body.max_delay_s
    return row


def check(session: Session, commune_id: int, body: ScheduleIn, now: datetime,
          editing: ScheduleRule | None = None,
          limits: RecurrenceLimits | None = None) -> tuple[ConflictReport, ScheduleRule]:
    """Validate `body` and check it against the commune's rules; nothing is written.

    The recurrence limits (schedules/limits.py) are checked before the conflict check expands the rule over two
    months: a rule that plays every second is refused from its text, at no cost."""
    limits = limits or RecurrenceLimits()
    _check_targets(session, commune_id, body)
    entries = _entries(body.programme)
    check_schedulable(session, commune_id, entries, now)
    if body.at is not None and body.at < now and (editing is None or editing.at != body.at):
        raise Invalid("schedule_in_past", "Thời điểm phát đã qua", "The broadcast time is in the past")
    world = mapping.load_commune_world(session, commune_id, now)
    probe = _row_from(body, ScheduleRule(commune_id=commune_id, title="", timezone=world.commune.timezone,
                                         created_at=editing.created_at if editing else now, updated_at=now))
    probe.id = editing.id if editing else 0
    probe.version = editing.version + 1 if editing else 1
    try:
        rule = mapping.schedule_rule(probe, world.library)
        check_recurrence(rule.recurrence, now, limits, rule.valid_from, rule.valid_until)
        check_device_load(rule, world.rules, world.topology, now, limits)
        report = check_conflicts(rule, [r for r in world.rules if r.id != rule.id], world.topology, now,
                                 now + CONFLICT_HORIZON, world.settings)
    except RecurrenceLimitError as exc:  # plays too often (docs/schedules.md, "How often a schedule may play")
        raise Invalid(exc.code, exc.message_vi, exc.message_en, **exc.extra) from None
    except ValueError as exc:  # a bad RRULE, times with BYHOUR, a programme the core refuses
        raise Invalid("schedule_invalid", f"Lịch không hợp lệ: {exc}", f"Invalid schedule: {exc}") from None
    stale = stale_words_note(session, body)
    if stale:
        report = replace(report, warnings=report.warnings + (stale,))
    return report, probe


def stale_words_note(session: Session, body: ScheduleIn) -> str | None:
    """A warning when the programme says "sáng mai", "tối nay", "tuần sau"… and the schedule repeats with no last
    day: the words are true the first day only (content/guards/relative_days.py)."""
    repeats = body.rrule is not None
    has_end = body.valid_until is not None or any(p in (body.rrule or "").upper() for p in ("UNTIL=", "COUNT="))
    if not repeats or has_end:
        return None
    ids = mapping.content_ids(_entries(body.programme))
    items = [session.get(ContentItem, i) for i in ids]
    texts = [(i.text or i.transcript) for i in items if i is not None]
    words = stale_words_warning(texts, repeats, has_end)
    if not words:
        return None
    quoted = ", ".join(f"«{w}»" for w in words)
    return (f"Bản tin có từ chỉ ngày tương đối ({quoted}) mà lịch lặp lại không có ngày kết thúc: từ ngày thứ hai"
            f" trở đi người nghe sẽ hiểu sai ngày. Hãy chọn ngày kết thúc hoặc sửa lời bản tin."
            f" / The announcement says {quoted}, and the schedule repeats with no last day: from the second day"
            f" listeners hear the wrong day. Choose a last day or change the words.")


def _conflict_out(c: RuleConflict) -> ConflictOut:
    kind, ident = mapping.parse_key(c.rule_id)
    return ConflictOut(rule_key=c.rule_id, schedule_id=ident if kind == "schedule" else None,
                       emergency_id=ident if kind == "emergency" else None, title=c.title,
                       resolution=c.resolution.value, first_overlap=c.first_overlap, overlaps=c.overlaps,
                       devices=[int(d) for d in c.devices])


def check_out(report: ConflictReport) -> CheckOut:
    refused = [_conflict_out(c) for c in report.conflicts if c.resolution is Resolution.REFUSED]
    resolved = [_conflict_out(c) for c in report.conflicts if c.resolution is not Resolution.REFUSED]
    return CheckOut(refused=report.refused, problems=list(report.problems), warnings=list(report.warnings),
                    conflicts=refused, resolved_by_priority=resolved, message=report.message())


def _raise_if_refused(report: ConflictReport) -> None:
    if report.problems:
        text = "; ".join(report.problems)
        vi = "; ".join(p.split(" / ")[0] for p in report.problems)
        en = "; ".join(p.split(" / ")[-1] for p in report.problems)
        raise Invalid("schedule_invalid", f"Lịch không hợp lệ: {vi}", f"Invalid schedule: {en}", problems=text)
    if report.refused:
        out = check_out(report)
        names = ", ".join(f"«{c.title}» (#{c.schedule_id or c.emergency_id})" for c in out.conflicts)
        raise Conflict("schedule_conflict", f"Trùng giờ với lịch cùng mức ưu tiên: {names}",
                       f"Overlaps schedules of the same priority: {names}",
                       conflicts=[c.model_dump(mode="json") for c in out.conflicts])


def preview(session: Session, actor: Principal, commune_id: int, body: ScheduleIn, now: datetime,
            schedule_id: int | None = None, limits: RecurrenceLimits | None = None) -> CheckOut:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *PREVIEWERS)
    editing = get_schedule(session, actor, schedule_id) if schedule_id else None
    if editing is not None and editing.commune_id != commune_id:
        raise _missing()
    report, _ = check(session, commune_id, body, now, editing, limits)
    return check_out(report)


def create_schedule(session: Session, actor: Principal, commune_id: int, body: ScheduleIn,
                    now: datetime, limits: RecurrenceLimits | None = None) -> tuple[ScheduleRule, CheckOut]:
    commune = get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *SCHEDULERS)
    report, _ = check(session, commune_id, body, now, limits=limits)
    _raise_if_refused(report)
    row = _row_from(body, ScheduleRule(commune_id=commune_id, title="", timezone=commune.timezone,
                                       author_id=actor.user_id, created_at=now, updated_at=now))
    session.add(row)
    session.flush()
    audit.record(session, actor, "schedule.create", "schedule", row.id, now, commune_id=commune_id,
                 title=row.title, priority=row.priority)
    return row, check_out(report)


def update_schedule(session: Session, actor: Principal, schedule_id: int, body: ScheduleIn,
                    now: datetime, limits: RecurrenceLimits | None = None) -> tuple[ScheduleRule, CheckOut]:
    row = get_schedule(session, actor, schedule_id)
    actor.require_role(row.commune_id, *SCHEDULERS)
    if row.cancelled_at is not None:
        raise Conflict("schedule_cancelled", "Lịch đã huỷ, không sửa được", "A cancelled schedule cannot change")
    report, _ = check(session, row.commune_id, body, now, editing=row, limits=limits)
    _raise_if_refused(report)
    _row_from(body, row)
    row.version += 1
    row.updated_at = now
    session.add(row)
    audit.record(session, actor, "schedule.update", "schedule", row.id, now, commune_id=row.commune_id,
                 version=row.version)
    return row, check_out(report)


def cancel_schedule(session: Session, actor: Principal, schedule_id: int, now: datetime) -> ScheduleRule:
    """Cancel at `now`: the play on air is cut, later plays vanish. Idempotent (the first cancel wins)."""
    row = get_schedule(session, actor, schedule_id)
    actor.require_role(row.commune_id, *SCHEDULERS)
    if row.cancelled_at is None:
        row.cancelled_at = row.updated_at = now
        session.add(row)
        audit.record(session, actor, "schedule.cancel", "schedule", row.id, now, commune_id=row.commune_id)
    return row


# ---------------------------------------------------------------- output


def notices_of(session: Session, schedule_id: int) -> list[ScheduleNotice]:
    return list(session.exec(select(ScheduleNotice).where(ScheduleNotice.schedule_id == schedule_id)
                             .order_by(col(ScheduleNotice.id))))


def notice_out(n: ScheduleNotice) -> NoticeOut:
    return NoticeOut(**n.model_dump(include=set(NoticeOut.model_fields)))


def list_notices(session: Session, actor: Principal, commune_id: int, limit: int = 100) -> list[ScheduleNotice]:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *PREVIEWERS, admin=True)
    return list(session.exec(select(ScheduleNotice).where(ScheduleNotice.commune_id == commune_id)
                             .order_by(col(ScheduleNotice.id).desc()).limit(limit)))


def schedule_out(session: Session, row: ScheduleRule) -> ScheduleOut:
    library = mapping.Library.load(session, mapping.content_ids(row.programme))
    try:
        duration = mapping.programme(row.programme, row.repeat, library).duration_s
    except ValueError:
        duration = 0.0
    data: dict[str, Any] = row.model_dump()
    data.update(starts_at=row.dtstart, duration_s=duration,
                targets=TargetsOut(commune=row.target_commune, villages=row.target_villages,
                                   devices=row.target_devices),
                warnings=[notice_out(n) for n in notices_of(session, saved_id(row))])
    return ScheduleOut(**{k: v for k, v in data.items() if k in ScheduleOut.model_fields})
