"""Issue 13: what airs is exactly what two people approved.

- The two-person rule counts everyone who changed the words or the audio since the last approval, not only
  the author (a cadre who rewrites a secretary's item cannot approve it alone).
- Approve names the audio the reviewer heard (`reviewed_sha256`): 409 `changed_since_review` if it changed.
- Audio by id is revalidated (no-cache, ETag = hash); only hash-addressed URLs are immutable; drafts private.
"""
from __future__ import annotations

from content.library.models import ContentItem, Status
from content.library.service import is_airable
from loa.db import session_scope
from station.handlers import default_handlers
from loa.jobs.worker import Worker
from tests.station_rig import make_item

TEXT = {"title": "Lũ trên sông Chảy", "text": "Bà con thôn Ún Tà chuẩn bị sơ tán trước tám giờ tối nay.",
        "engine": "espeak"}


def _render_all(app, settings, clock) -> None:
    Worker(app.state.engine, settings, default_handlers(), clock).run_until_idle(clock())


def _item(client, world, item_id, role="cadre") -> dict:
    return client.get(f"/api/v1/content/{item_id}", headers=world.h(role)).json()


def _approve(client, world, role, item_id, sha):
    return client.post(f"/api/v1/content/{item_id}/approve", headers=world.h(role), json={"reviewed_sha256": sha})


def _text_item(client, app, world, settings, clock, author="secretary", **extra) -> int:
    r = client.post(f"/api/v1/communes/{world.a}/content", headers=world.h(author), json={**TEXT, **extra})
    assert r.status_code == 202, r.text
    _render_all(app, settings, clock)
    item = r.json()["item"]["id"]
    assert _item(client, world, item)["render_state"] == "ready"
    return item


def test_a_cadre_who_rewrites_a_secretarys_item_cannot_approve_it_alone(client, app, world, settings, clock):
    item = _text_item(client, app, world, settings, clock)
    r = client.patch(f"/api/v1/content/{item}", headers=world.h("cadre"),
                     json={"text": "Thông báo giả: không cần sơ tán, lũ đã rút."})
    assert r.status_code == 200 and r.json()["item"]["author_id"] == world.users["secretary"]  # author unchanged
    _render_all(app, settings, clock)
    assert client.post(f"/api/v1/content/{item}/submit", headers=world.h("cadre")).status_code == 200
    sha = _item(client, world, item)["audio"]["sha256"]
    r = _approve(client, world, "cadre", item, sha)
    assert r.status_code == 403 and r.json()["code"] == "self_review", r.text
    assert _item(client, world, item)["status"] == "submitted"
    # … nor can the secretary (the author, whose first version was never approved); the other cadre can.
    assert client.post(f"/api/v1/content/{item}/reject", headers=world.h("cadre"),
                       json={"reason": "tự từ chối"}).status_code == 403
    ok = _approve(client, world, "cadre2", item, sha)
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert ok.json()["approved_version"] == ok.json()["version"] == 2
    contributions = client.get(f"/api/v1/content/{item}/contributions", headers=world.h("cadre")).json()
    assert [(c["user_id"], c["kind"], c["version"]) for c in contributions] == [
        (world.users["secretary"], "create_text", 1), (world.users["cadre"], "edit_text", 2)]
    assert all(not c["since_approval"] for c in contributions)  # all covered by the approval now
    audit = client.get(f"/api/v1/communes/{world.a}/audit?object_type=content&object_id={item}",
                       headers=world.h("cadre")).json()
    approval = next(e for e in audit if e["action"] == "content.approve")
    assert approval["detail"]["contributors"] == sorted([world.users["secretary"], world.users["cadre"]])
    assert approval["detail"]["sha256"] == sha and approval["detail"]["version"] == 2


def test_voice_and_transcript_changes_count_title_does_not(client, app, world, settings, clock, engine, facts):
    # A recording: the cadre fixes its transcript (words residents read) → the cadre may not approve.
    rec = make_item(engine, world, facts, clock)
    client.patch(f"/api/v1/content/{rec}", headers=world.h("cadre"), json={"transcript": "Lời khác"})
    client.post(f"/api/v1/content/{rec}/submit", headers=world.h("secretary"))
    assert _approve(client, world, "cadre", rec, facts.sha256).json()["code"] == "self_review"
    # A title is not words or audio: the cadre who renamed it may still approve the secretary's recording.
    other = make_item(engine, world, facts, clock)
    client.patch(f"/api/v1/content/{other}", headers=world.h("cadre"), json={"title": "Tên mới"})
    client.post(f"/api/v1/content/{other}/submit", headers=world.h("secretary"))
    assert _approve(client, world, "cadre", other, facts.sha256).status_code == 200
    # A text item re-voiced by the cadre (same words, other voice → other audio): the cadre is a contributor.
    item = _text_item(client, app, world, settings, clock)
    client.patch(f"/api/v1/content/{item}", headers=world.h("cadre"), json={"voice": "vi-vn-x-south"})
    _render_all(app, settings, clock)
    client.post(f"/api/v1/content/{item}/submit", headers=world.h("secretary"))
    sha = _item(client, world, item)["audio"]["sha256"]
    assert _approve(client, world, "cadre", item, sha).json()["code"] == "self_review"
    kinds = [c["kind"] for c in client.get(f"/api/v1/content/{item}/contributions", headers=world.h("cadre")).json()]
    assert kinds == ["create_text", "edit_voice"]


def test_after_an_approval_only_later_changes_bar_a_reviewer(client, engine, world, facts, clock):
    # cadre2 wrote it, the cadre approved it; then the cadre changes the transcript: now cadre2 (whose own
    # version was approved) may review the cadre's change, and the cadre may not.
    item = make_item(engine, world, facts, clock, author="cadre2", status="submitted")
    assert _approve(client, world, "cadre", item, facts.sha256).status_code == 200
    client.patch(f"/api/v1/content/{item}", headers=world.h("cadre"), json={"transcript": "Sửa lời"})
    client.post(f"/api/v1/content/{item}/submit", headers=world.h("cadre"))
    assert _approve(client, world, "cadre", item, facts.sha256).json()["code"] == "self_review"
    since = [c for c in client.get(f"/api/v1/content/{item}/contributions", headers=world.h("cadre")).json()
             if c["since_approval"]]
    assert [(c["user_id"], c["kind"]) for c in since] == [(world.users["cadre"], "edit_transcript")]
    assert _approve(client, world, "cadre2", item, facts.sha256).status_code == 200


def test_pack_importer_is_the_contributor(client, app, world, settings, clock):
    r = client.post(f"/api/v1/communes/{world.a}/packs/huong-dan-2026/import", headers=world.h("cadre"),
                    json={"engine": "espeak"})
    assert r.status_code == 201, r.text
    item = r.json()["created"][0]["item"]["id"]
    with session_scope(app.state.engine) as s:  # render just this one: the pack has many
        from content.library.render import render_item_job

        row = s.get(ContentItem, item)
        payload = {"item_id": item, "generation": row.render_generation}
    render_item_job(app.state.engine, settings, payload, clock())
    assert client.post(f"/api/v1/content/{item}/submit", headers=world.h("cadre")).status_code == 200
    sha = _item(client, world, item)["audio"]["sha256"]
    assert _approve(client, world, "cadre", item, sha).json()["code"] == "self_review"
    assert _approve(client, world, "cadre2", item, sha).status_code == 200


def test_approve_is_tied_to_the_audio_the_reviewer_heard(client, app, world, settings, clock):
    item = _text_item(client, app, world, settings, clock)
    client.post(f"/api/v1/content/{item}/submit", headers=world.h("secretary"))
    heard = _item(client, world, item)["audio"]["sha256"]  # the cadre opens the review page and listens
    # meanwhile the secretary changes the words and submits again
    client.patch(f"/api/v1/content/{item}", headers=world.h("secretary"),
                 json={"text": "Thông báo giả: không cần sơ tán, lũ đã rút."})
    _render_all(app, settings, clock)
    assert client.post(f"/api/v1/content/{item}/submit", headers=world.h("secretary")).status_code == 200
    now_sha = _item(client, world, item)["audio"]["sha256"]
    assert now_sha != heard
    r = _approve(client, world, "cadre", item, heard)
    assert r.status_code == 409 and r.json()["code"] == "changed_since_review", r.text
    assert r.json()["current_sha256"] == now_sha
    after = _item(client, world, item)
    assert after["status"] == "submitted" and after["reviewed_by"] is None and after["approved_version"] is None
    audit = client.get(f"/api/v1/communes/{world.a}/audit?object_type=content&object_id={item}",
                       headers=world.h("cadre")).json()
    assert "content.approve" not in [e["action"] for e in audit]
    # missing or malformed hash: 422, nothing changes
    for body in (None, {}, {"reviewed_sha256": ""}, {"reviewed_sha256": "abc"}):
        r = client.post(f"/api/v1/content/{item}/approve", headers=world.h("cadre"), json=body)
        assert r.status_code == 422, (body, r.text)
    assert _item(client, world, item)["status"] == "submitted"
    # the hash in upper case is the same hash
    assert _approve(client, world, "cadre", item, now_sha.upper()).json()["status"] == "approved"


def test_service_refuses_a_missing_hash(engine, world, facts, clock):
    import pytest

    from content.library import service as library
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.errors import Invalid

    item = make_item(engine, world, facts, clock, status="submitted")
    with session_scope(engine) as s:
        cadre = principal_for(s, s.get(User, world.users["cadre"]), "127.0.0.1", "cli")
        with pytest.raises(Invalid) as exc:
            library.approve(s, cadre, item, clock(), reviewed_sha256=None)
        assert exc.value.code == "reviewed_sha256_required"
        assert s.get(ContentItem, item).status == Status.submitted.value


def test_an_approval_covers_one_version_only(client, engine, world, facts, clock):
    """A row approved for an older version (as a stale render or a bug might leave it) does not air."""
    item = make_item(engine, world, facts, clock, status="approved")
    with session_scope(engine) as s:
        row = s.get(ContentItem, item)
        assert is_airable(row, clock())
        row.version += 1  # words changed without a new approval
        s.add(row)
    with session_scope(engine) as s:
        assert not is_airable(s.get(ContentItem, item), clock())


# ---------------------------------------------------------------- caching of audio


def test_audio_by_id_is_revalidated_and_by_hash_is_immutable(client, app, world, settings, clock):
    item = _text_item(client, app, world, settings, clock)
    body = _item(client, world, item)
    sha, url = body["audio"]["sha256"], body["audio"]["url"]
    assert url == f"/api/v1/content/{item}/audio?v={sha}"
    by_id = client.get(f"/api/v1/content/{item}/audio", headers=world.h("cadre"))
    assert by_id.status_code == 200 and by_id.headers["etag"] == f'"{sha}"'
    assert by_id.headers["cache-control"] == "private, no-cache"  # a draft, behind a login, mutable URL
    by_hash = client.get(url, headers=world.h("cadre"))
    assert by_hash.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert by_hash.content == by_id.content
    again = client.get(f"/api/v1/content/{item}/audio", headers={**world.h("cadre"), "If-None-Match": f'"{sha}"'})
    assert again.status_code == 304
    # an edit: the by-id URL now serves other bytes with another ETag; the old hash URL refuses to lie
    client.patch(f"/api/v1/content/{item}", headers=world.h("secretary"), json={"text": "Lũ đã rút, bà con về nhà."})
    _render_all(app, settings, clock)
    new_sha = _item(client, world, item)["audio"]["sha256"]
    assert new_sha != sha
    fresh = client.get(f"/api/v1/content/{item}/audio", headers={**world.h("cadre"), "If-None-Match": f'"{sha}"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == f'"{new_sha}"' and fresh.content != by_id.content
    old = client.get(url, headers=world.h("cadre"))
    assert old.status_code == 409 and old.json()["code"] == "audio_changed"


def test_public_audio_caching(client, engine, world, facts, clock):
    item = make_item(engine, world, facts, clock, status="approved")
    page = client.get(f"/r/{world.a}")
    assert f"/r/audio/{facts.sha256}.ogg" in page.text and f"/r/audio/{item}.ogg" not in page.text
    by_hash = client.get(f"/r/audio/{facts.sha256}.ogg")
    assert by_hash.status_code == 200 and by_hash.headers["cache-control"] == "public, max-age=31536000, immutable"
    by_id = client.get(f"/r/audio/{item}.ogg")
    assert by_id.status_code == 200 and by_id.headers["cache-control"] == "public, no-cache"
    assert by_id.headers["etag"] == f'"{facts.sha256}"'
    feed = client.get(f"/r/{world.a}/v/{world.village_a}/feed.xml").text
    assert f"/r/audio/{facts.sha256}.ogg" in feed
    # a draft is nowhere public, by id or by hash
    draft_sha = "f" * 64
    assert client.get(f"/r/audio/{draft_sha}.ogg").status_code == 404
    client.patch(f"/api/v1/content/{item}", headers=world.h("secretary"), json={"transcript": "Sửa"})
    assert client.get(f"/r/audio/{item}.ogg").status_code == 404
    assert client.get(f"/r/audio/{facts.sha256}.ogg").status_code == 404
