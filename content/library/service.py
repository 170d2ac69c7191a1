"""The content library's rules: who sees and edits what, and the approval flow.

    draft ──submit──▶ submitted ──approve──▶ approved ──▶ archived
      ▲                   │                      │
      └──── edit ◀── rejected (reason) ◀─────────┘ (editing an approved item sends it back to draft)

Only a cadre who did not change the words or the audio since the last approval approves or rejects (the
contributors of each version are in content.library.contributions), and only the audio they heard: approve
takes the sha256 of the audio the reviewer played (409 `changed_since_review` if the item changed since).
Only approved, unexpired items with audio whose approved version is the current one air (`is_airable`).
Items made from a CAP alert await a normal review; until then they air only in that alert's emergency
(`is_airable_in_alert`). Texts are rendered in the background: creating or re-wording a text item enqueues a
render job; a render that fails says why (`render_error`, `render_error_code`) and can be retried.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, and_, col, or_, select

from content.library import contributions
from loa.languages import normalize_tag
from content.library.models import ContentItem, RenderState, Source, Status
from content.library.schemas import ContributionOut, ItemFilter, ItemMeta, ItemUpdate, TextItemCreate
from content.types import AudioFacts
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound, PermissionDenied
from loa.jobs import service as jobs
from loa.jobs.models import Job
from loa.org.service import get_commune, village_in_commune

RENDER_JOB = "content.render_text"
MASTER_JOB = "content.master_recording"  # an upload that waited for a mastering slot
_ACTIONS = {Status.submitted: "content.submit", Status.approved: "content.approve",
            Status.rejected: "content.reject", Status.archived: "content.archive"}
EDITORS = ("cadre", "secretary", "village_head")


def _playable(item: ContentItem, now: datetime) -> bool:
    return (item.audio_sha256 is not None and item.render_state == RenderState.ready.value
            and (item.expires_at is None or now < item.expires_at))


def is_airable(item: ContentItem, now: datetime) -> bool:
    """May this item go to a loudspeaker at `now`, anywhere? Approved (the version it has now), with audio,
    and not expired."""
    return (
        item.status == Status.approved.value
        and item.approved_version is not None and item.approved_version == item.version
        and _playable(item, now)
    )


def is_airable_in_alert(item: ContentItem, now: datetime) -> bool:
    """May this item air in the emergency of the CAP alert it was made from, without a review? Only with the
    alert's own words (version 1: nobody edited it since) and while it is not archived or expired. The caller
    checks that the emergency is that alert's and that a cadre confirmed it."""
    return (item.cap_alert_id is not None and item.version == 1
            and item.status not in (Status.archived.value, Status.rejected.value) and _playable(item, now))


def _missing() -> NotFound:
    return NotFound("content_not_found", "Không tìm thấy nội dung", "Content item not found")


def _visible(actor: Principal, item: ContentItem) -> bool:
    if actor.is_admin:
        return True
    role = actor.role_in(item.commune_id)
    if role is None:
        return False
    if role == "village_head":
        # A village head sees what is for their village, what they wrote, and commune-wide approved items.
        return (item.village_id == actor.village_in(item.commune_id) or item.author_id == actor.user_id
                or (item.village_id is None and item.status == Status.approved.value))
    return True


def _person(actor: Principal) -> int:
    """Who writes: an item has a person as its author and contributors, never the system principal."""
    if actor.user_id is None:
        raise PermissionDenied("person_required", "Chỉ một người dùng mới soạn được nội dung",
                               "Only a person can write content")
    return actor.user_id


def job_visible(session: Session, actor: Principal, job: Job) -> bool:
    """Whether `actor` may see a background job of their commune: a village head only sees the jobs of items
    they may see (a render job names the item and shows its text's fate); every other role sees them all."""
    if actor.is_admin or job.commune_id is None or actor.role_in(job.commune_id) != "village_head":
        return True
    object_id = job.object_id or ""
    if job.object_type != "content" or not object_id.isdigit():
        return False
    item = session.get(ContentItem, int(object_id))
    return item is not None and item.commune_id == job.commune_id and _visible(actor, item)


def get_item(session: Session, actor: Principal, item_id: int) -> ContentItem:
    item = session.get(ContentItem, item_id)
    if item is None or not _visible(actor, item):
        raise _missing()
    return item


def _search_text(item: ContentItem) -> str:
    return " ".join(filter(None, [item.title, item.text, item.transcript])).casefold()[:41000]


def _check_links(session: Session, actor: Principal, item: ContentItem) -> None:
    if actor.role_in(item.commune_id) == "village_head" and not actor.is_admin:
        item.village_id = actor.village_in(item.commune_id)  # a village head only asks for their own village
    village_in_commune(session, item.commune_id, item.village_id)
    if item.pair_item_id is not None:
        other = session.get(ContentItem, item.pair_item_id)
        if other is None or other.commune_id != item.commune_id or not _visible(actor, other):
            raise _missing()
        if other.id == item.id or other.language == item.language:
            raise Invalid("pair_invalid", "Cặp song ngữ phải là hai nội dung khác ngôn ngữ",
                          "A bilingual pair needs two items in different languages")


def _new_item(session: Session, actor: Principal, commune_id: int, meta: ItemMeta, now: datetime,
              contribution: str, **fields: Any) -> ContentItem:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *EDITORS)
    item = ContentItem(commune_id=commune_id, title=meta.title.strip(), kind=meta.kind.value,
                       language=normalize_tag(meta.language), expires_at=meta.expires_at,
                       village_id=meta.village_id, pair_item_id=meta.pair_item_id, author_id=_person(actor),
                       status=Status.draft.value, created_at=now, updated_at=now, **fields)
    _check_links(session, actor, item)
    item.search_text = _search_text(item)
    session.add(item)
    session.flush()
    contributions.record(session, item, _person(actor), contribution, now, new_version=False)
    return item


def _enqueue_render(session: Session, actor: Principal, item: ContentItem, now: datetime) -> Job:
    item.render_generation += 1
    item.render_state, item.render_error, item.render_error_code = RenderState.pending.value, None, None
    session.add(item)
    return jobs.enqueue(session, RENDER_JOB, {"item_id": item.id, "generation": item.render_generation}, now,
                        commune_id=item.commune_id, created_by=actor.user_id, object_type="content",
                        object_id=item.id)


def create_text_item(session: Session, actor: Principal, commune_id: int, data: TextItemCreate,
                     now: datetime, contribution: str = "create_text") -> tuple[ContentItem, Job]:
    item = _new_item(session, actor, commune_id, data, now, contribution, source=Source.text.value,
                     text=data.text, engine=data.engine, voice=data.voice, speed=data.speed)
    job = _enqueue_render(session, actor, item, now)
    audit.record(session, actor, "content.create", "content", item.id, now, commune_id=commune_id,
                 source="text", job_id=job.id)
    return item, job


def _set_audio(item: ContentItem, facts: AudioFacts) -> None:
    item.audio_sha256, item.audio_format = facts.sha256, facts.format
    item.duration_s, item.size_bytes = facts.duration_s, facts.size_bytes
    item.integrated_lufs, item.true_peak_dbtp = facts.integrated_lufs, facts.true_peak_dbtp
    item.loudness_range_lu = facts.loudness_range_lu
    item.render_state, item.render_error, item.render_error_code = RenderState.ready.value, None, None


def create_recording_item(session: Session, actor: Principal, commune_id: int, meta: ItemMeta, facts: AudioFacts,
                          now: datetime, transcript: str | None = None,
                          original_filename: str | None = None) -> ContentItem:
    item = _new_item(session, actor, commune_id, meta, now, "create_recording", source=Source.recording.value,
                     transcript=transcript, original_filename=original_filename)
    _set_audio(item, facts)
    item.search_text = _search_text(item)
    session.add(item)
    audit.record(session, actor, "content.create", "content", item.id, now, commune_id=commune_id,
                 source="recording", sha256=facts.sha256)
    return item


def create_waiting_recording_item(session: Session, actor: Principal, commune_id: int, meta: ItemMeta,
                                  pending_name: str, max_duration_s: float, now: datetime,
                                  transcript: str | None = None,
                                  original_filename: str | None = None) -> tuple[ContentItem, Job]:
    """An upload that was checked but found every mastering slot busy: the item exists at once, without audio
    (render_state pending: the user sees "đang chờ"), and a job masters the kept upload when a slot frees."""
    item = _new_item(session, actor, commune_id, meta, now, "create_recording", source=Source.recording.value,
                     transcript=transcript, original_filename=original_filename)
    item.render_generation += 1
    item.render_state, item.render_error = RenderState.pending.value, None
    item.search_text = _search_text(item)
    session.add(item)
    session.flush()
    job = jobs.enqueue(session, MASTER_JOB, {"item_id": item.id, "generation": item.render_generation,
                                             "upload": pending_name, "max_duration_s": max_duration_s}, now,
                       commune_id=commune_id, created_by=actor.user_id, object_type="content", object_id=item.id)
    audit.record(session, actor, "content.create", "content", item.id, now, commune_id=commune_id,
                 source="recording", job_id=job.id)
    return item, job


def check_can_create(session: Session, actor: Principal, commune_id: int, meta: ItemMeta) -> None:
    """Every check of a new item, run before an upload is read and mastered: a refusal costs no CPU and
    leaves no audio in the store."""
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *EDITORS)
    probe = ContentItem(commune_id=commune_id, title=meta.title, kind=meta.kind.value,
                        language=normalize_tag(meta.language), village_id=meta.village_id,
                        pair_item_id=meta.pair_item_id, source=Source.recording.value, author_id=_person(actor),
                        created_at=datetime.now().astimezone(), updated_at=datetime.now().astimezone())
    _check_links(session, actor, probe)


def audio_in_use(session: Session, sha256: str) -> bool:
    return session.exec(select(ContentItem.id).where(ContentItem.audio_sha256 == sha256).limit(1)).first() is not None


def apply_render(session: Session, item_id: int, generation: int, facts: AudioFacts | None, now: datetime,
                 error: str | None = None, error_code: str | None = None) -> bool:
    """Stores a finished render unless the item changed meanwhile (a newer render job owns it) or this
    generation was already applied: a job run twice (a lost lease) must not swap the audio of an item that
    was reviewed meanwhile, even if the second run chose another engine. Idempotent."""
    item = session.get(ContentItem, item_id)
    if item is None or item.render_generation != generation or item.render_state != RenderState.pending.value:
        return False
    if facts is not None:
        _set_audio(item, facts)
    else:
        item.render_state, item.render_error = RenderState.failed.value, (error or "")[:2000]
        item.render_error_code = (error_code or "render_failed")[:40]
    item.updated_at = now
    session.add(item)
    return True


def list_items(session: Session, actor: Principal, commune_id: int, f: ItemFilter) -> tuple[list[ContentItem], int]:
    get_commune(session, actor, commune_id)
    query = select(ContentItem).where(ContentItem.commune_id == commune_id)
    if actor.role_in(commune_id) == "village_head" and not actor.is_admin:
        mine = actor.village_in(commune_id)
        query = query.where(or_(
            ContentItem.village_id == mine, ContentItem.author_id == actor.user_id,
            and_(col(ContentItem.village_id).is_(None), ContentItem.status == Status.approved.value),
        ))
    if f.status:
        query = query.where(ContentItem.status == f.status.value)
    if f.kind:
        query = query.where(ContentItem.kind == f.kind.value)
    if f.language:
        query = query.where(ContentItem.language == normalize_tag(f.language))
    if f.village_id is not None:
        query = query.where(ContentItem.village_id == f.village_id)
    for word in (f.q or "").casefold().split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(ContentItem.search_text).like(f"%{escaped}%", escape="\\"))
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(ContentItem.updated_at).desc(), col(ContentItem.id).desc())
                        .offset(f.offset).limit(f.limit))
    return list(rows), int(total)


def _require_editor(actor: Principal, item: ContentItem) -> None:
    role = actor.require_role(item.commune_id, *EDITORS)
    if role == "village_head" and item.author_id != actor.user_id:
        raise PermissionDenied("not_author", "Chỉ người soạn được sửa nội dung này",
                               "Only the author can change this item")


def update_item(session: Session, actor: Principal, item_id: int, patch: ItemUpdate,
                now: datetime) -> tuple[ContentItem, Job | None]:
    item = get_item(session, actor, item_id)
    _require_editor(actor, item)
    if item.status == Status.archived.value:
        raise Conflict("content_archived", "Nội dung đã lưu trữ, không sửa được", "Archived items cannot change")
    changes = patch.model_dump(exclude_unset=True)
    if "language" in changes and changes["language"] is not None:
        changes["language"] = normalize_tag(changes["language"])
    if "kind" in changes and changes["kind"] is not None:
        changes["kind"] = changes["kind"].value
    for required in ("title", "kind", "language"):
        if required in changes and changes[required] is None:
            raise Invalid("field_required", f"Không được để trống {required}", f"{required} cannot be empty")
    render_fields = {"text", "engine", "voice", "speed"} & changes.keys()
    if render_fields and item.source != Source.text.value:
        raise Invalid("not_a_text_item", "Bản ghi âm không có văn bản để đọc lại",
                      "A recording has no text to re-render")
    if "text" in changes and changes["text"] is None:
        raise Invalid("field_required", "Không được để trống văn bản", "The text cannot be empty")
    changed = {k: v for k, v in changes.items() if getattr(item, k) != v}
    if not changed:
        return item, None
    for key, value in changed.items():
        setattr(item, key, value)
    _check_links(session, actor, item)
    _record_edit(session, actor, item, changed, now)
    previous = item.status
    if item.status in (Status.approved.value, Status.submitted.value, Status.rejected.value):
        item.status = Status.draft.value  # an edited item must be approved again
        item.reviewed_by = item.reviewed_at = item.submitted_at = None
    item.search_text = _search_text(item)
    item.updated_at = now
    session.add(item)
    job = None
    if {"text", "engine", "voice", "speed"} & changed.keys():
        item.audio_sha256 = None  # the old audio no longer matches the words
        job = _enqueue_render(session, actor, item, now)
    audit.record(session, actor, "content.update", "content", item.id, now, commune_id=item.commune_id,
                 fields=sorted(changed), previous_status=previous if previous != item.status else None)
    return item, job


def _record_edit(session: Session, actor: Principal, item: ContentItem, changed: dict[str, Any],
                 now: datetime) -> None:
    """A change to the words or the voice makes a new version, and its editor a contributor to it."""
    kinds: dict[str, list[str]] = {}
    for name in changed:
        if name in contributions.CONTENT_FIELDS:
            kinds.setdefault(contributions.CONTENT_FIELDS[name], []).append(name)
    for i, (kind, names) in enumerate(sorted(kinds.items())):
        contributions.record(session, item, _person(actor), kind, now, fields=names, new_version=i == 0)


def retry_render(session: Session, actor: Principal, item_id: int, now: datetime) -> tuple[ContentItem, Job]:
    """Render a text item again after a failed render (the network voice is back, say). Same words, same
    voice choice: not a contribution. Only a failed render can be retried (409 otherwise)."""
    item = get_item(session, actor, item_id)
    _require_editor(actor, item)
    if item.source != Source.text.value:
        raise Invalid("not_a_text_item", "Bản ghi âm không có văn bản để đọc lại",
                      "A recording has no text to re-render")
    if item.render_state != RenderState.failed.value or item.status == Status.archived.value:
        raise Conflict("render_not_failed", "Chỉ làm lại âm thanh khi lần trước bị lỗi",
                       "Only a failed render can be retried", render_state=item.render_state)
    job = _enqueue_render(session, actor, item, now)
    audit.record(session, actor, "content.render_retry", "content", item.id, now, commune_id=item.commune_id,
                 job_id=job.id)
    return item, job


def _transition(session: Session, actor: Principal, item: ContentItem, to: Status, now: datetime,
                **detail: Any) -> ContentItem:
    previous = item.status
    item.status, item.updated_at = to.value, now
    session.add(item)
    audit.record(session, actor, _ACTIONS[to], "content", item.id, now, commune_id=item.commune_id, previous_status=previous, **detail)
    return item


def _conflict_state(item: ContentItem, action_vi: str, action_en: str) -> Conflict:
    return Conflict("invalid_transition", f"Không thể {action_vi} nội dung đang ở trạng thái {item.status}",
                    f"Cannot {action_en} an item in status {item.status}", current_status=item.status)


def _require_audio(item: ContentItem) -> None:
    if item.render_state != RenderState.ready.value or not item.audio_sha256:
        raise Conflict("audio_not_ready", "Âm thanh chưa sẵn sàng (đang tạo hoặc lỗi)",
                       "The audio is not ready (still rendering or failed)")


def submit(session: Session, actor: Principal, item_id: int, now: datetime) -> ContentItem:
    item = get_item(session, actor, item_id)
    _require_editor(actor, item)
    if item.status not in (Status.draft.value, Status.rejected.value):
        raise _conflict_state(item, "gửi duyệt", "submit")
    _require_audio(item)
    item.submitted_at, item.reject_reason = now, None
    return _transition(session, actor, item, Status.submitted, now)


def contributions_out(session: Session, item: ContentItem) -> list[ContributionOut]:
    if item.id is None:  # not saved yet: nobody contributed
        return []
    since = {c.id for c in contributions.since_approval(session, item)}
    out = []
    for c in contributions.all_of(session, item.id):
        vi, en = contributions.KIND_LABELS.get(c.kind, (c.kind, c.kind))
        out.append(ContributionOut(version=c.version, user_id=c.user_id, kind=c.kind, kind_vi=vi, kind_en=en,
                                   fields=list(c.fields or []), created_at=c.created_at, since_approval=c.id in since))
    return out


def may_review(session: Session, actor: Principal, item: ContentItem) -> bool:
    """The two-person rule: a cadre who did not change the words or audio since the last approval."""
    return (actor.role_in(item.commune_id) == "cadre"
            and actor.user_id not in contributions.barred_reviewers(session, item))


def _review(session: Session, actor: Principal, item_id: int, action_vi: str, action_en: str) -> ContentItem:
    item = get_item(session, actor, item_id)
    actor.require_role(item.commune_id, "cadre")
    if actor.user_id in contributions.barred_reviewers(session, item):
        raise PermissionDenied("self_review",
                               "Bạn đã soạn hoặc sửa lời, giọng đọc hay âm thanh của nội dung này từ lần duyệt "
                               "trước: một cán bộ khác phải duyệt",
                               "You wrote or changed the words, voice or audio of this item since it was last "
                               "approved: another cadre must review it")
    if item.status != Status.submitted.value:
        raise _conflict_state(item, action_vi, action_en)
    return item


def approve(session: Session, actor: Principal, item_id: int, now: datetime,
            reviewed_sha256: str | None) -> ContentItem:
    """Approve the audio the reviewer heard: `reviewed_sha256` must be the item's audio now."""
    item = _review(session, actor, item_id, "duyệt", "approve")
    reviewed = (reviewed_sha256 or "").strip().lower()
    if not reviewed:
        raise Invalid("reviewed_sha256_required",
                      "Thiếu mã của bản âm thanh đã nghe (reviewed_sha256): hãy nghe rồi duyệt lại",
                      "Missing the hash of the audio you listened to (reviewed_sha256): listen, then approve")
    _require_audio(item)
    if reviewed != item.audio_sha256:
        raise Conflict("changed_since_review",
                       "Nội dung đã thay đổi từ lúc bạn nghe: hãy nghe lại bản mới rồi duyệt",
                       "The item changed since you listened to it: listen to the new version, then approve",
                       current_sha256=item.audio_sha256, reviewed_sha256=reviewed)
    if item.expires_at is not None and item.expires_at <= now:
        raise Conflict("content_expired", "Nội dung đã hết hạn", "The item has expired")
    since = contributions.since_approval(session, item)
    item.reviewed_by, item.reviewed_at, item.approved_version = actor.user_id, now, item.version
    return _transition(session, actor, item, Status.approved, now, sha256=item.audio_sha256, version=item.version,
                       contributors=sorted({c.user_id for c in since}), cap_alert_id=item.cap_alert_id)


def reject(session: Session, actor: Principal, item_id: int, reason: str, now: datetime) -> ContentItem:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason_required", "Phải ghi lý do từ chối", "A reason is required to reject")
    item = _review(session, actor, item_id, "từ chối", "reject")
    item.reviewed_by, item.reviewed_at, item.reject_reason = actor.user_id, now, reason
    return _transition(session, actor, item, Status.rejected, now, reason=reason)


def archive(session: Session, actor: Principal, item_id: int, now: datetime) -> ContentItem:
    item = get_item(session, actor, item_id)
    actor.require_role(item.commune_id, "cadre", "secretary")
    if item.status == Status.archived.value:
        raise _conflict_state(item, "lưu trữ", "archive")
    return _transition(session, actor, item, Status.archived, now)
