"""Composing and approving a bulletin at a province or a district (issue 16 point 2).

    draft ──submit──▶ submitted ──approve──▶ approved ──send──▶ sent
      ▲                   │                      │
      └──── edit ◀── rejected (reason) ◀─────────┘ (an edit before sending goes back to draft)
      └──── edit ◀──────────────────────────────────────────────── sent (a correction: the next version)

A sent bulletin corrected (its words or title) becomes the next version, a draft again: approved again by
someone who did not change it, then sent, it withdraws the older version everywhere that one went
(docs/bulletins.md, "Versions").

An `editor` (or an `approver`) of the bulletin's own province or district writes it (a text, rendered by the station's TTS
pipeline, or a recording, in any language) and submits it; an `approver` there approves it, having listened to
it (approve names the audio's sha256: 409 if it changed since), unless they wrote or changed it since the last
approval: the same two-person rule as a commune's content. Every step is in the audit log. Rendering is
injected (`Render`): the domain does not pick a TTS engine, the station does.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from loa.languages import normalize_tag
from content.types import AudioFacts
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound, PermissionDenied
from loa.org import areas
from schedules.bulletins.models import Bulletin
from schedules.bulletins.schemas import BulletinEdit, BulletinTextIn

Render = Callable[[str, str], AudioFacts]  # (text, language) → the mastered audio, already in the store
EDITORS, APPROVERS = ("editor", "approver"), ("approver",)  # an approver writes too, like a cadre


def bulletin_missing() -> NotFound:
    return NotFound("bulletin_not_found", "Không tìm thấy bản tin", "Bulletin not found")


def area_of(session: Session, bulletin: Bulletin) -> areas.Area:
    return areas.get_area(session, bulletin.org_level, bulletin.org_id)


def get_bulletin(session: Session, actor: Principal, bulletin_id: int) -> Bulletin:
    """A bulletin of an area the caller sees; any other is 404."""
    row = session.get(Bulletin, bulletin_id)
    if row is None or not areas.sees_area(session, actor, area_of(session, row)):
        raise bulletin_missing()
    return row


def list_bulletins(session: Session, actor: Principal, area: areas.Area, limit: int = 200) -> list[Bulletin]:
    areas.visible_area(session, actor, area.level, area.id)
    return list(session.exec(select(Bulletin).where(Bulletin.org_level == area.level, Bulletin.org_id == area.id)
                             .order_by(col(Bulletin.id).desc()).limit(limit)))


def _audit(session: Session, actor: Principal, action: str, row: Bulletin, now: datetime, **detail: Any) -> None:
    audit.record(session, actor, action, "bulletin", row.id, now, org_level=row.org_level, org_id=row.org_id,
                 version=row.version, **detail)


def _person(actor: Principal) -> int:
    """Who writes: a bulletin's author and changers are people. Staff roles belong to users, so after
    `require_role_at` this always holds; the system principal (no user) never gets here."""
    if actor.user_id is None:
        raise PermissionDenied("person_required", "Chỉ một người dùng mới soạn được bản tin",
                               "Only a person can write a bulletin")
    return actor.user_id


def _set_audio(row: Bulletin, facts: AudioFacts) -> None:
    row.audio_sha256, row.audio_format = facts.sha256, facts.format
    row.duration_s, row.size_bytes = facts.duration_s, facts.size_bytes


def _render(render: Render, text: str, language: str) -> AudioFacts:
    try:
        return render(text, language)
    except Exception as exc:  # noqa: BLE001 — any engine failure is the author's to see, nothing is saved
        raise Invalid("render_failed", f"Không đọc được bản tin thành tiếng: {exc}",
                      f"The bulletin could not be spoken: {exc}") from None


def create_text(session: Session, actor: Principal, area: areas.Area, body: BulletinTextIn, render: Render,
                now: datetime) -> Bulletin:
    areas.require_role_at(session, actor, area, *EDITORS)
    author = _person(actor)
    language = normalize_tag(body.language)
    facts = _render(render, body.text, language)
    row = Bulletin(org_level=area.level, org_id=area.id, title=body.title.strip(), language=language,
                   source="text", text=body.text, author_id=author, changed_by=[author],
                   created_at=now, updated_at=now)
    _set_audio(row, facts)
    session.add(row)
    session.flush()
    _audit(session, actor, "bulletin.create", row, now, source="text", sha256=facts.sha256)
    return row


def create_recording(session: Session, actor: Principal, area: areas.Area, title: str, language: str,
                     facts: AudioFacts, now: datetime, transcript: str | None = None) -> Bulletin:
    areas.require_role_at(session, actor, area, *EDITORS)
    author = _person(actor)
    if not title.strip():
        raise Invalid("title_required", "Chưa có tiêu đề", "A title is required")
    row = Bulletin(org_level=area.level, org_id=area.id, title=title.strip()[:300], language=normalize_tag(language),
                   source="recording", text=(transcript or None), author_id=author,
                   changed_by=[author], created_at=now, updated_at=now)
    _set_audio(row, facts)
    session.add(row)
    session.flush()
    _audit(session, actor, "bulletin.create", row, now, source="recording", sha256=facts.sha256)
    return row


def check_can_compose(session: Session, actor: Principal, area: areas.Area) -> None:
    """Every check of a new recording, before the upload is mastered (a refusal costs no CPU)."""
    areas.require_role_at(session, actor, area, *EDITORS)


def edit(session: Session, actor: Principal, bulletin_id: int, body: BulletinEdit, render: Render,
         now: datetime) -> Bulletin:
    row = get_bulletin(session, actor, bulletin_id)
    areas.require_role_at(session, actor, area_of(session, row), *EDITORS)
    editor = _person(actor)
    words_changed = body.text is not None and body.text != row.text
    if row.status == "sent" and not words_changed and (body.title is None or body.title.strip() == row.title):
        return row  # nothing corrected: no new version to approve and send again
    if words_changed and row.source == "text" and body.text is not None:
        _set_audio(row, _render(render, body.text, row.language))
    if body.text is not None:
        row.text = body.text
    if body.title is not None:
        row.title = body.title.strip()
    if words_changed or body.title is not None:
        row.version += 1
        row.status, row.reject_reason, row.approved_by, row.approved_at = "draft", None, None, None
        if editor not in row.changed_by:
            row.changed_by = [*row.changed_by, editor]
    row.updated_at = now
    session.add(row)
    _audit(session, actor, "bulletin.edit", row, now, words_changed=words_changed)
    return row


def submit(session: Session, actor: Principal, bulletin_id: int, now: datetime) -> Bulletin:
    row = get_bulletin(session, actor, bulletin_id)
    areas.require_role_at(session, actor, area_of(session, row), *EDITORS)
    if row.status not in ("draft", "rejected"):
        raise Conflict("invalid_transition", f"Không thể gửi duyệt bản tin ở trạng thái {row.status}",
                       f"Cannot submit a bulletin in status {row.status}", current_status=row.status)
    if row.audio_sha256 is None:
        raise Invalid("no_audio", "Bản tin chưa có âm thanh", "The bulletin has no audio yet")
    row.status, row.updated_at = "submitted", now
    session.add(row)
    _audit(session, actor, "bulletin.submit", row, now)
    return row


def _review(session: Session, actor: Principal, bulletin_id: int) -> Bulletin:
    row = get_bulletin(session, actor, bulletin_id)
    areas.require_role_at(session, actor, area_of(session, row), *APPROVERS)
    if row.status != "submitted":
        raise Conflict("invalid_transition", f"Chỉ duyệt được bản tin đang chờ duyệt (hiện: {row.status})",
                       f"Only a submitted bulletin can be reviewed (now: {row.status})", current_status=row.status)
    if actor.user_id in row.changed_by:
        raise PermissionDenied("two_person_rule", "Người soạn hoặc sửa bản tin không được tự duyệt",
                               "Whoever wrote or changed a bulletin cannot approve it")
    return row


def approve(session: Session, actor: Principal, bulletin_id: int, audio_sha256: str, now: datetime) -> Bulletin:
    row = _review(session, actor, bulletin_id)
    if audio_sha256 != row.audio_sha256:
        raise Conflict("changed_since_review", "Bản tin đã đổi từ lúc bạn nghe, hãy nghe lại",
                       "The bulletin changed since you listened: listen again")
    row.status, row.approved_by, row.approved_at, row.updated_at = "approved", actor.user_id, now, now
    row.changed_by = []
    session.add(row)
    _audit(session, actor, "bulletin.approve", row, now, sha256=audio_sha256)
    return row


def reject(session: Session, actor: Principal, bulletin_id: int, reason: str, now: datetime) -> Bulletin:
    row = _review(session, actor, bulletin_id)
    if not reason.strip():
        raise Invalid("reason_required", "Hãy ghi lý do", "Give a reason")
    row.status, row.reject_reason, row.updated_at = "rejected", reason.strip(), now
    session.add(row)
    _audit(session, actor, "bulletin.reject", row, now, reason=row.reject_reason)
    return row
