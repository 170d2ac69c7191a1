"""A commune receives a bulletin from above (issue 16 point 2, the three levels of Thông tư 39):

- **normal**: it waits in the commune's inbox; a cadre accepts it into the commune's own schedule (`inbox.accept`)
  or refuses it with a reason;
- **priority**: it is put into the commune's next programme at once — a one-off play at priority "priority" at
  the start of the next play in the commune's timetable (the commune's own normal items make way by the usual
  priority rule). Where that clashes with the commune's own priority item, nothing is decided for the commune:
  it waits with a note, and the cadre chooses before or after their item (`inbox.order`);
- **emergency**: it airs at once on every loudspeaker of the commune through the existing emergency path (an
  `emergencies` row, airing now); `after_commit` re-materializes the commune with the emergency as *started*,
  which pushes the signed start command (docs/device-protocol.md §4a) before the manifests are rebuilt.

The audio is already in the station's content store (by sha256). Each audio part becomes an approved content item
of the commune — approved above by two people, so the commune airs it without a second review — written by the
station's "upper level" account (`cap-tren`, never able to log in), which also acts as the cadre for the
automatic steps, so the audit log says who did what.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from content.library.models import ContentItem, Kind, RenderState, Source, Status
from loa.accounts.models import User
from loa.accounts.principal import CommuneRole, Principal
from loa.audit import service as audit
from loa.errors import Conflict, DomainError, Invalid, NotFound
from loa.org.models import Commune, Village
from schedules import mapping
from schedules import emergency_service, rules_service
from schedules.bulletins.models import InboxItem
from schedules.bulletins.schemas import LEVELS, AudioPart, ReceivedBulletin
from schedules.schemas import ItemEntry, ScheduleIn, TargetsIn
from schedules.model import StationSettings
from schedules.tables import EmergencyRow, ScheduleRule, StationSettingsRow, TimetablePlay, saved_id, saved_ids

UPPER_USERNAME = "cap-tren"
LEAD = timedelta(seconds=60)  # a priority bulletin starts no sooner: the loudspeakers fetch it first


def upper_user(session: Session, now: datetime) -> User:
    """The account bulletins from above are written by. Inactive with no usable password: it cannot log in."""
    user = session.exec(select(User).where(User.username == UPPER_USERNAME)).first()
    if user is None:
        user = User(username=UPPER_USERNAME, display_name="Cấp trên (bản tin tỉnh/huyện)", password_hash="!",
                    is_active=False, created_at=now)
        session.add(user)
        session.flush()
    return user


def acting_for(user: User, commune_id: int) -> Principal:
    """The upper-level account acting as the commune's cadre for the automatic steps (airing an emergency,
    placing a priority bulletin): the same checks and the same audit trail as a person."""
    return Principal(user.id, user.username, memberships={commune_id: CommuneRole("cadre")}, via="system")


def _check(b: ReceivedBulletin) -> None:
    if b.level not in LEVELS:
        raise Invalid("level_invalid", "Mức bản tin phải là thường, ưu tiên hoặc khẩn cấp",
                      "The level must be normal, priority or emergency")
    if b.expires_at <= b.issued_at:
        raise Invalid("expiry_invalid", "Hạn của bản tin phải sau lúc phát hành",
                      "The bulletin must expire after it was issued")
    if not b.audio:
        raise Invalid("no_audio", "Bản tin không có âm thanh", "The bulletin has no audio")
    if not b.title.strip():
        raise Invalid("title_required", "Bản tin không có tiêu đề", "The bulletin has no title")


def receive(session: Session, b: ReceivedBulletin, now: datetime) -> list[InboxItem]:
    """Deliver `b` to every commune of this station it targets (by code): one inbox item each. Idempotent:
    the same (sender, bulletin, version) again returns the items already received; an older version than one
    received is refused (409). None of the targeted communes here: 404. The caller commits, then calls
    `after_commit` so an emergency airs at once."""
    _check(b)
    communes = list(session.exec(select(Commune).where(col(Commune.code).in_(set(b.target_communes)))
                                 .order_by(col(Commune.id)))) if b.target_communes else []
    if not communes:
        raise NotFound("commune_not_found", "Không có xã nào của bản tin ở trạm này",
                       "None of the bulletin's communes is on this station")
    return [receive_into(session, b, commune, now) for commune in communes]


def _newest(session: Session, b: ReceivedBulletin, commune_id: int) -> InboxItem | None:
    return session.exec(select(InboxItem).where(
        InboxItem.commune_id == commune_id, InboxItem.sender_station == b.sender_station,
        InboxItem.bulletin_id == b.bulletin_id).order_by(col(InboxItem.version).desc())).first()


def receive_into(session: Session, b: ReceivedBulletin, commune: Commune, now: datetime) -> InboxItem:
    """`b` into one commune's inbox (the local sender calls this directly with the commune)."""
    commune_id = saved_id(commune)
    newest = _newest(session, b, commune_id)
    if newest is not None and newest.version == b.version:
        return newest  # delivered twice: nothing changes
    if newest is not None and newest.version > b.version:
        raise Conflict("bulletin_older", "Đã nhận phiên bản mới hơn của bản tin này",
                       "A newer version of this bulletin was received already", received_version=newest.version)
    row = InboxItem(commune_id=commune_id, sender_station=b.sender_station, sender_org=b.sender_org[:200],
                    sender_level=b.sender_level, bulletin_id=b.bulletin_id, version=b.version, level=b.level,
                    title=b.title.strip()[:300], texts=dict(b.texts),
                    audio=[{"sha256": a.sha256, "size": a.size, "duration_s": a.duration_s,
                            "language": a.language, "format": a.format} for a in b.audio],
                    issued_at=b.issued_at, expires_at=b.expires_at, received_at=now, updated_at=now)
    session.add(row)
    session.flush()
    user = upper_user(session, now)
    actor = acting_for(user, commune_id)
    row.content_item_ids = [saved_id(_content_item(session, b, commune_id, part, user, now)) for part in b.audio]
    audit.record(session, actor, "bulletin.receive", "bulletin_inbox", row.id, now, commune_id=commune_id,
                 sender=b.sender_org, bulletin_id=b.bulletin_id, version=b.version, level=b.level)
    # The older versions go first, so nothing placed below clashes with (or follows) what they scheduled.
    withdrawn = supersede_older(session, actor, row, now)
    if withdrawn and b.level == "normal" and b.expires_at > now:
        row.note = (f"Phiên bản {withdrawn[0].version} đã được chấp nhận phát và nay đã rút khỏi lịch: hãy quyết định"
                    f" lại với phiên bản {row.version} / Version {withdrawn[0].version} was accepted and is now"
                    f" withdrawn from the schedule: decide again on version {row.version}")
    if b.expires_at <= now:
        row.state = "expired"
    elif b.level == "emergency":
        _air_emergency(session, actor, row, commune, now)
    elif b.level == "priority":
        place_priority(session, actor, row, now)
    session.add(row)
    return row


def older_versions(session: Session, row: InboxItem) -> list[InboxItem]:
    """The commune's items of earlier versions of the same bulletin (same sender), newest first."""
    return list(session.exec(select(InboxItem).where(
        col(InboxItem.commune_id) == row.commune_id, col(InboxItem.sender_station) == row.sender_station,
        col(InboxItem.bulletin_id) == row.bulletin_id, col(InboxItem.version) < row.version)
        .order_by(col(InboxItem.version).desc())))


def supersede_older(session: Session, actor: Principal, row: InboxItem, now: datetime) -> list[InboxItem]:
    """Every older version of `row`'s bulletin in its commune becomes `superseded` (linked to `row`), and
    whatever would air it is withdrawn now: its one-off schedule cancelled (a play on air is cut), its emergency
    cancelled. The older version never airs afterwards. Returns the items that had been scheduled (newest
    first), so the caller can tell the cadre their earlier decision was withdrawn. `after_commit` then
    re-materializes the commune, which rebuilds the loudspeakers' timetables without those plays."""
    withdrawn: list[InboxItem] = []
    for old in older_versions(session, row):
        if old.state == "superseded":
            continue
        was = old.state
        if old.schedule_id is not None:
            rule = session.get(ScheduleRule, old.schedule_id)
            if rule is not None and rule.cancelled_at is None:
                rules_service.cancel_schedule(session, actor, old.schedule_id, now)
        if old.emergency_id is not None:
            emergency = session.get(EmergencyRow, old.emergency_id)
            if emergency is not None and emergency_service.cancel_row(session, emergency, now):
                emergency.cancelled_by = actor.user_id
                audit.record(session, actor, "emergency.cancel", "emergency", emergency.id, now,
                             commune_id=old.commune_id, status=emergency.status, superseded_by=row.id)
        if was == "scheduled":
            withdrawn.append(old)
        old.state, old.superseded_by, old.updated_at = "superseded", row.id, now
        old.note = (f"Đã có phiên bản {row.version} thay thế, phiên bản này không phát nữa"
                    f" / Replaced by version {row.version}: this version no longer airs")
        session.add(old)
        audit.record(session, actor, "bulletin.supersede", "bulletin_inbox", old.id, now, commune_id=old.commune_id,
                     bulletin_id=old.bulletin_id, version=old.version, superseded_by=row.id, new_version=row.version,
                     was=was, schedule_id=old.schedule_id, emergency_id=old.emergency_id)
    return withdrawn


def _content_item(session: Session, b: ReceivedBulletin, commune_id: int, part: AudioPart, user: User,
                  now: datetime) -> ContentItem:
    words = b.texts.get(part.language) or None
    author = saved_id(user)  # upper_user flushed it
    item = ContentItem(commune_id=commune_id, title=b.title.strip()[:300],
                       kind=(Kind.emergency if b.level == "emergency" else Kind.directive).value,
                       language=part.language, source=Source.recording.value, transcript=words,
                       audio_sha256=part.sha256, audio_format=part.format, duration_s=part.duration_s,
                       size_bytes=part.size, render_state=RenderState.ready.value, version=1, approved_version=1,
                       expires_at=b.expires_at, status=Status.approved.value, author_id=author, submitted_at=now,
                       reviewed_by=author, reviewed_at=now, created_at=now, updated_at=now,
                       search_text=" ".join(filter(None, [b.title, words])).casefold()[:41000])
    session.add(item)
    session.flush()
    return item


def programme_of(row: InboxItem) -> list[dict[str, Any]]:
    return [{"type": "item", "content_id": cid} for cid in row.content_item_ids]


def duration_of(row: InboxItem) -> float:
    return sum(float(a.get("duration_s") or 0.0) for a in row.audio)


def _air_emergency(session: Session, actor: Principal, row: InboxItem, commune: Commune, now: datetime) -> None:
    commune_id = saved_id(commune)
    villages = sorted(saved_ids(session.exec(select(col(Village.id)).where(Village.commune_id == commune_id))))
    emergency = EmergencyRow(commune_id=commune_id, title=row.title, programme=programme_of(row),
                             villages=villages, devices=[], repeat=1, gap_s=0.0, status="airing",
                             source="bulletin", created_by=actor.user_id, created_at=now, started_at=now)
    session.add(emergency)
    session.flush()
    row.emergency_id, row.state, row.decided_at, row.updated_at = emergency.id, "scheduled", now, now
    audit.record(session, actor, "emergency.start", "emergency", emergency.id, now, commune_id=commune_id,
                 villages=villages, repeat=1, bulletin_inbox_id=row.id)


def _next_programme(session: Session, commune_id: int, now: datetime) -> TimetablePlay | None:
    """The first play of the commune's stored timetable that starts after the lead time (not an emergency)."""
    return session.exec(select(TimetablePlay).where(
        TimetablePlay.commune_id == commune_id, TimetablePlay.start >= now + LEAD,
        TimetablePlay.priority < mapping.PRIORITIES["emergency"]).order_by(col(TimetablePlay.start))).first()


def own_priority_clash(session: Session, row: InboxItem, at: datetime) -> TimetablePlay | None:
    """The commune's own priority play that a bulletin starting at `at` would overlap, if any. The plays of this
    bulletin's own versions are not the commune's (an older version's play is withdrawn, even before the
    timetable is rebuilt)."""
    end = at + timedelta(seconds=duration_of(row))
    mine = [row.schedule_id] if row.schedule_id else []
    mine += [o.schedule_id for o in older_versions(session, row) if o.schedule_id is not None] if row.id else []
    return session.exec(select(TimetablePlay).where(
        TimetablePlay.commune_id == row.commune_id, TimetablePlay.priority == mapping.PRIORITIES["priority"],
        col(TimetablePlay.rule_key).startswith("s"), TimetablePlay.start < end, TimetablePlay.end > at,
        col(TimetablePlay.rule_key).not_in([f"s{i}" for i in mine])
    ).order_by(col(TimetablePlay.start))).first()


def next_slot(session: Session, row: InboxItem, now: datetime) -> datetime:
    """The start of the commune's next programme; with none, the lead time from now, moved past the commune's
    quiet hours when the play would touch them. The timetable skips a priority play in the quiet hours, so at
    23:00 "in a minute" would be reported as scheduled and never air."""
    play = _next_programme(session, row.commune_id, now)
    if play is not None:
        return play.start  # a play of the stored timetable: the quiet hours already let it through
    commune = session.get(Commune, row.commune_id)
    if commune is None:
        return now + LEAD
    settings = mapping.station_settings(session.get(StationSettingsRow, row.commune_id), commune)
    return audible_start(settings, now + LEAD, duration_of(row)).astimezone(now.tzinfo)


def audible_start(settings: StationSettings, at: datetime, seconds: float) -> datetime:
    """`at`, or the end of the quiet hours that a play of `seconds` starting then would touch."""
    if not settings.in_quiet_hours(at, at + timedelta(seconds=seconds)):
        return at
    tz = ZoneInfo(settings.timezone)
    moved = after_quiet_hours(at, settings.quiet_start, settings.quiet_end, tz)
    if moved == at:  # starts before the quiet hours and runs into them: after those
        moved = after_quiet_hours(at + timedelta(seconds=seconds), settings.quiet_start, settings.quiet_end, tz)
    return moved


def after_quiet_hours(at: datetime, quiet_start: time, quiet_end: time, tz: ZoneInfo) -> datetime:
    """`at`, or the end of the quiet hours [quiet_start, quiet_end) it falls in (a window may cross midnight;
    equal ends mean no quiet hours)."""
    local = at.astimezone(tz)
    t = local.time()
    crosses_midnight = quiet_start > quiet_end
    inside = (quiet_start <= t or t < quiet_end) if crosses_midnight else (quiet_start <= t < quiet_end)
    if not inside:
        return at
    day = local.date() if t < quiet_end else local.date() + timedelta(days=1)
    return datetime.combine(day, quiet_end, tzinfo=tz)


def schedule_once(session: Session, actor: Principal, row: InboxItem, at: datetime,
                  priority: Literal["normal", "priority"], villages: list[int] | None, now: datetime) -> int:
    body = ScheduleIn(title=row.title, priority=priority, at=at,
                      targets=TargetsIn(commune=not villages, villages=villages or []),
                      programme=[ItemEntry(type="item", content_id=cid) for cid in row.content_item_ids],
                      valid_until=row.expires_at)
    schedule, _ = rules_service.create_schedule(session, actor, row.commune_id, body, now)
    return saved_id(schedule)


def place_priority(session: Session, actor: Principal, row: InboxItem, now: datetime) -> None:
    """Into the next programme, unless it clashes with the commune's own priority item (the cadre orders)."""
    at = next_slot(session, row, now)
    clash = own_priority_clash(session, row, at)
    if clash is not None:
        row.note = (f"Trùng với tin ưu tiên của xã «{clash.title}» lúc {clash.start.isoformat(timespec='minutes')}:"
                    f" hãy chọn phát trước hay sau / Clashes with the commune's own priority item «{clash.title}»:"
                    f" choose before or after")
        return
    try:
        with session.begin_nested():
            row.schedule_id = schedule_once(session, actor, row, at, "priority", None, now)
    except DomainError as exc:  # quiet hours, a limit: the cadre sees why and places it by hand
        row.note = f"{exc.message_vi} / {exc.message_en}"
        return
    row.state, row.decided_at, row.updated_at = "scheduled", now, now
