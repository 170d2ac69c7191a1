"""The approval flow and its rules; expiry; the audit trail of every step."""
from __future__ import annotations

from datetime import timedelta

from content.library.models import ContentItem
from content.library.service import is_airable
from loa.db import session_scope
from tests.station_rig import make_item


def _post(client, world, role, item, action, **body):
    if action == "approve" and not body:  # approve what the reviewer heard: the item's audio as it is now
        audio = client.get(f"/api/v1/content/{item}", headers=world.h(role)).json().get("audio") or {}
        body = {"reviewed_sha256": audio.get("sha256") or "0" * 64}
    return client.post(f"/api/v1/content/{item}/{action}", headers=world.h(role), json=body or None)


def test_full_flow_draft_submitted_approved_archived(client, engine, world, facts, clock):
    item = make_item(engine, world, facts, clock)
    assert _post(client, world, "cadre", item, "approve").json()["code"] == "invalid_transition"  # not submitted
    assert _post(client, world, "secretary", item, "submit").json()["status"] == "submitted"
    approved = _post(client, world, "cadre", item, "approve").json()
    assert approved["status"] == "approved" and approved["reviewed_by"] == world.users["cadre"]
    assert _post(client, world, "cadre", item, "archive").json()["status"] == "archived"
    r = client.patch(f"/api/v1/content/{item}", headers=world.h("secretary"), json={"title": "x"})
    assert r.status_code == 409 and r.json()["code"] == "content_archived"
    actions = [e["action"] for e in client.get(f"/api/v1/communes/{world.a}/audit?object_type=content",
                                               headers=world.h("cadre")).json()]
    assert actions[:4] == ["content.archive", "content.approve", "content.submit", "content.create"]


def test_author_cannot_approve_own_item_even_as_cadre(client, engine, world, facts, clock):
    item = make_item(engine, world, facts, clock, author="cadre", status="submitted")
    r = _post(client, world, "cadre", item, "approve")
    assert r.status_code == 403 and r.json()["code"] == "self_review"
    assert _post(client, world, "cadre", item, "reject", reason="tự từ chối").status_code == 403
    assert _post(client, world, "cadre2", item, "approve").json()["status"] == "approved"


def test_reject_needs_a_reason_and_edit_returns_to_draft(client, engine, world, facts, clock):
    item = make_item(engine, world, facts, clock, status="submitted")
    assert _post(client, world, "cadre", item, "reject", reason="").status_code == 422
    assert _post(client, world, "cadre", item, "reject", reason="   ").json()["code"] == "reason_required"
    rejected = _post(client, world, "cadre", item, "reject", reason="Sai tên thôn").json()
    assert rejected["status"] == "rejected" and rejected["reject_reason"] == "Sai tên thôn"
    # a rejected item may be submitted again (after fixing) …
    assert _post(client, world, "secretary", item, "submit").json()["status"] == "submitted"


def test_editing_an_approved_item_sends_it_back_to_draft(client, engine, world, facts, clock):
    item = make_item(engine, world, facts, clock, status="approved")
    r = client.patch(f"/api/v1/content/{item}", headers=world.h("secretary"), json={"title": "Đã sửa"})
    assert r.status_code == 200
    body = r.json()["item"]
    assert body["status"] == "draft" and body["reviewed_by"] is None
    with session_scope(engine) as s:
        assert not is_airable(s.get(ContentItem, item), clock())
    # an unchanged PATCH is not an edit
    again = make_item(engine, world, facts, clock, status="approved")
    same = client.patch(f"/api/v1/content/{again}", headers=world.h("secretary"), json={"title": "Hướng dẫn cài VNeID"})
    assert same.json()["item"]["status"] == "approved"


def test_expired_items_never_air_and_cannot_be_approved(client, engine, world, facts, clock):
    expires = clock() + timedelta(days=1)
    item = make_item(engine, world, facts, clock, status="approved", expires_at=expires)
    with session_scope(engine) as s:
        row = s.get(ContentItem, item)
        assert is_airable(row, clock())
        assert not is_airable(row, expires)
        assert not is_airable(row, expires + timedelta(seconds=1))
    late = make_item(engine, world, facts, clock, status="submitted", expires_at=expires)
    clock.advance(days=2)
    r = _post(client, world, "cadre", late, "approve")
    assert r.status_code == 409 and r.json()["code"] == "content_expired"


def test_submit_needs_audio_and_text_edit_rerenders(client, world):
    r = client.post(f"/api/v1/communes/{world.a}/content", headers=world.h("secretary"),
                    json={"title": "Tiêm chủng", "text": "Sáng thứ hai tiêm chủng tại trạm y tế."})
    assert r.status_code == 202
    item, job = r.json()["item"], r.json()["job"]
    assert item["render_state"] == "pending" and job["status"] == "queued"
    s = client.post(f"/api/v1/content/{item['id']}/submit", headers=world.h("secretary"))
    assert s.status_code == 409 and s.json()["code"] == "audio_not_ready"


def test_bilingual_pair_and_search_filters(client, engine, world, facts, clock):
    giay = make_item(engine, world, facts, clock, title="Thông báo tiếng Giáy", language="pcc",
                     village_id=world.village_a)
    vi = make_item(engine, world, facts, clock, title="Hướng dẫn VNeID cho bà con", pair_item_id=giay)
    bad = client.patch(f"/api/v1/content/{vi}", headers=world.h("secretary"), json={"pair_item_id": vi})
    assert bad.status_code == 422 and bad.json()["code"] == "pair_invalid"
    h = world.h("cadre")
    base = f"/api/v1/communes/{world.a}/content"
    assert [i["id"] for i in client.get(f"{base}?language=pcc", headers=h).json()["items"]] == [giay]
    got = client.get(f"{base}?q=vneid CHO BÀ", headers=h).json()  # "cho" only in the title of vi
    assert [i["id"] for i in got["items"]] == [vi] and got["total"] == 1
    assert got["items"][0]["pair_item_id"] == giay
    assert client.get(f"{base}?language=pcc", headers=h).json()["items"][0]["language_name"] == "Tiếng Giáy"
    assert client.get(f"{base}?village_id={world.village_a}", headers=h).json()["total"] == 1
    assert client.get(f"{base}?status=approved", headers=h).json()["total"] == 0
    assert client.get(f"{base}?q=100%25", headers=h).json()["total"] == 0  # LIKE wildcards are literal
    bad_lang = client.post(base, headers=h, json={"title": "x", "text": "y", "language": "not a tag!"})
    assert bad_lang.status_code == 422 and bad_lang.json()["code"] == "language_invalid"


def test_audit_log_is_append_only_in_the_database(engine, world):
    import pytest
    import sqlalchemy as sa

    with pytest.raises(sa.exc.DBAPIError):
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET action = 'forged'"))
    with pytest.raises(sa.exc.DBAPIError):
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_log"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action='forged'")).scalar() == 0
