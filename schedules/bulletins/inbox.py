"""The commune's bulletin inbox (issue 16 point 2): what the commune's cadre decides.

- every member of the commune reads its inbox; another commune's item is 404;
- a cadre accepts a normal bulletin into the commune's own schedule (a one-off at the time they choose, for
  the whole commune or chosen villages; the usual schedule checks and conflicts apply), or refuses it with a
  reason;
- a cadre orders a priority bulletin that clashes with the commune's own priority item: before it (ending when
  it starts) or after it (starting when it ends);
- an emergency is already on air when the inbox shows it (the cadre can stop it on the emergency page);
- an older version of a bulletin is `superseded` once a newer one arrives (receive.supersede_older): it shows
  the link to the newer item and can no longer be decided on.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Commune
from loa.org.service import get_commune
from schedules import mapping
from schedules.bulletins.models import InboxItem
from schedules.bulletins.receive import (  # after_quiet_hours: also the inbox page's rule
    LEAD, after_quiet_hours, duration_of, next_slot, own_priority_clash, schedule_once,
)
from schedules.bulletins.schemas import AcceptIn, OrderIn
from schedules.tables import StationSettingsRow

DECIDERS = ("cadre",)


def _missing() -> NotFound:
    return NotFound("inbox_item_not_found", "Không tìm thấy bản tin trong hộp thư", "Inbox item not found")


def list_inbox(session: Session, actor: Principal, commune_id: int, now: datetime) -> list[InboxItem]:
    get_commune(session, actor, commune_id)
    rows = list(session.exec(select(InboxItem).where(InboxItem.commune_id == commune_id)
                             .order_by(col(InboxItem.id).desc()).limit(300)))
    for row in rows:
        expire_if_due(session, row, now)
    return rows


def get_item(session: Session, actor: Principal, item_id: int) -> InboxItem:
    row = session.get(InboxItem, item_id)
    if row is None or not actor.sees_commune(row.commune_id):
        raise _missing()
    return row


def expire_if_due(session: Session, row: InboxItem, now: datetime) -> bool:
    """A bulletin still waiting when its expiry passes is expired: the commune can no longer air it."""
    if row.state == "received" and row.expires_at <= now:
        row.state, row.updated_at = "expired", now
        session.add(row)
        return True
    return False


def _decidable(session: Session, actor: Principal, item_id: int, now: datetime, level: str) -> InboxItem:
    row = get_item(session, actor, item_id)
    actor.require_role(row.commune_id, *DECIDERS)
    if expire_if_due(session, row, now):
        raise Conflict("bulletin_expired", "Bản tin đã hết hạn", "The bulletin has expired")
    if row.state == "superseded":
        raise Conflict("bulletin_superseded", "Đã có phiên bản mới hơn của bản tin này: hãy quyết định phiên bản mới",
                       "A newer version of this bulletin arrived: decide on the newer one",
                       superseded_by=row.superseded_by)
    if row.state != "received":
        raise Conflict("invalid_transition", f"Bản tin đã ở trạng thái {row.state}",
                       f"The bulletin is already {row.state}", current_status=row.state)
    if level and row.level != level:
        raise Conflict("wrong_level", "Việc này không dành cho mức bản tin này",
                       "This action is not for a bulletin of this level", level=row.level)
    return row


def _decided(session: Session, actor: Principal, row: InboxItem, state: str, now: datetime, action: str,
             **detail: Any) -> InboxItem:
    row.state, row.decided_by, row.decided_at, row.updated_at = state, actor.user_id, now, now
    session.add(row)
    audit.record(session, actor, action, "bulletin_inbox", row.id, now, commune_id=row.commune_id,
                 bulletin_id=row.bulletin_id, sender=row.sender_org, **detail)
    return row


def accept(session: Session, actor: Principal, item_id: int, body: AcceptIn, now: datetime) -> InboxItem:
    row = _decidable(session, actor, item_id, now, "normal")
    if body.at.tzinfo is None:
        raise Invalid("time_invalid", "Thời điểm cần có múi giờ", "The time needs a timezone")
    if body.at + timedelta(seconds=duration_of(row)) > row.expires_at:
        raise Invalid("after_expiry", "Giờ phát phải trước khi bản tin hết hạn",
                      "The bulletin must air before it expires")
    row.schedule_id = schedule_once(session, actor, row, body.at, "normal", body.villages, now)
    return _decided(session, actor, row, "scheduled", now, "bulletin.accept", schedule_id=row.schedule_id)


def order(session: Session, actor: Principal, item_id: int, body: OrderIn, now: datetime) -> InboxItem:
    row = _decidable(session, actor, item_id, now, "priority")
    slot = next_slot(session, row, now)
    clash = own_priority_clash(session, row, slot)
    if clash is None:
        at = slot  # nothing clashes (any more): the next programme, as the level says
    elif body.order == "before":
        at = clash.start - timedelta(seconds=duration_of(row))
        if at < now + LEAD:
            raise Conflict("no_time_before", "Không đủ thời gian để phát trước tin của xã, hãy chọn phát sau",
                           "There is no time to air it before the commune's item: choose after")
    else:
        at = clash.end
    row.schedule_id = schedule_once(session, actor, row, at, "priority", None, now)
    row.note = None
    return _decided(session, actor, row, "scheduled", now, "bulletin.order", order=body.order,
                    schedule_id=row.schedule_id)


def refuse(session: Session, actor: Principal, item_id: int, reason: str, now: datetime) -> InboxItem:
    row = _decidable(session, actor, item_id, now, "")
    if row.level == "emergency":
        raise Conflict("emergency_on_air", "Bản tin khẩn cấp đã phát, hãy dừng ở trang phát khẩn cấp",
                       "An emergency bulletin is already on air: stop it on the emergency page")
    if not reason.strip():
        raise Invalid("reason_required", "Hãy ghi lý do từ chối", "Give the reason for refusing")
    row.refuse_reason = reason.strip()[:2000]
    return _decided(session, actor, row, "refused", now, "bulletin.refuse", reason=row.refuse_reason)


def suggested_time(session: Session, commune_id: int, now: datetime, lead: timedelta = timedelta(hours=1)) -> datetime:
    """When the inbox page suggests airing a normal bulletin: an hour from now, or the end of the commune's quiet
    hours when that falls inside them (a suggestion the loudspeakers would skip helps nobody). In `now`'s zone."""
    commune = session.get(Commune, commune_id)
    if commune is None:
        return now + lead
    settings = mapping.station_settings(session.get(StationSettingsRow, commune_id), commune)
    return after_quiet_hours((now + lead).replace(second=0, microsecond=0), settings.quiet_start,
                             settings.quiet_end, ZoneInfo(settings.timezone)).astimezone(now.tzinfo)
