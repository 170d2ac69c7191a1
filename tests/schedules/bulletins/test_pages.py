"""The bulletin pages through their forms (session cookie + CSRF): staff land on their level, compose, submit,
approve, send; the commune cadre accepts from the inbox; another province's staff get 404 on every page."""
from __future__ import annotations

import re
from datetime import timedelta

from tests.api.web.web_rig import form_token, login


def _post(client, url, **data):
    return client.post(url, data={"csrf": client.cookies.get("loa_csrf"), **data}, follow_redirects=False)


def test_the_main_path_in_pages(client, levels, clock):
    lv = levels
    login(client, "d-editor")
    r = client.get("/app", follow_redirects=True)
    assert r.url.path == f"/app/bulletins/district/{lv.district}" and "Huyện Bát Xát" in r.text
    form_token(r.text)
    r = _post(client, f"/app/bulletins/district/{lv.district}/compose", title="Tiêm phòng",
              text="Bà con đưa trẻ đi tiêm phòng.", language="vi")
    assert r.status_code == 303
    page = r.headers["location"]
    assert "Bản nháp" in client.get(page).text
    assert _post(client, f"{page}/submit").status_code == 303
    assert "Chờ duyệt" in client.get(page).text
    # the author's own page offers no approval; an approver's does, naming the audio heard
    assert 'id="approve-bulletin"' not in client.get(page).text
    login(client, "d-approver")
    html = client.get(page).text
    sha = re.search(r'name="audio_sha256" value="([0-9a-f]{64})"', html).group(1)
    assert _post(client, f"{page}/approve", audio_sha256=sha).status_code == 303
    expires = (clock() + timedelta(days=2)).date().isoformat()
    r = client.post(f"{page}/send", data={"csrf": client.cookies.get("loa_csrf"), "level": "normal",
                                          "expires": expires, "communes": [str(lv.w.a)]}, follow_redirects=False)
    assert r.status_code == 303
    html = client.get(page).text
    assert "Cốc San" in html and "Đã nhận" in html

    login(client, "cadre")
    inbox = client.get(f"/app/c/{lv.w.a}/inbox").text
    assert "Tiêm phòng" in inbox and "Huyện Bát Xát" in inbox and "Bản tin cấp trên" in inbox
    item_id = int(re.search(r"/inbox/(\d+)/accept", inbox).group(1))
    at = (clock() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    assert _post(client, f"/app/c/{lv.w.a}/inbox/{item_id}/accept", at=at).status_code == 303
    assert "Đã lên lịch" in client.get(f"/app/c/{lv.w.a}/inbox").text

    from broadcaster.station.models import PlayRecordRow
    from loa.db import session_scope

    with session_scope(client.app.state.engine) as s:  # what loudspeaker a1 reported playing this morning
        s.add(PlayRecordRow(uid="a1", seq=1, device_id=lv.devices["a1"], commune_id=lv.w.a,
                            village_id=lv.w.village_a, play_id="s1", sha256=None, priority="normal",
                            planned_start=clock(), actual_start=clock(), actual_end=clock() + timedelta(minutes=3),
                            result="played", received_at=clock()))
    clock.advance(hours=1)
    login(client, "p-editor")
    tracked = client.get(page).text
    assert "Đã lên lịch" in tracked and "Cụm a1" in tracked
    rollup = client.get(f"/app/bulletins/province/{lv.w.province}/rollup").text
    assert 'id="rollup-chart"' in rollup and 'id="rollup-groups"' in rollup and "Cốc San" in rollup
    assert "Bát Xát" in rollup and "<title>Bát Xát · Tiếp sóng: 3.0" in rollup

    login(client, "yb-approver")
    for url in (page, f"/app/bulletins/district/{lv.district}", f"/app/bulletins/province/{lv.w.province}/rollup",
                f"/app/c/{lv.w.a}/inbox"):
        assert client.get(url).status_code == 404, url
    assert _post(client, f"{page}/submit").status_code == 404


def test_a_refusal_needs_its_reason_in_the_page(client, levels, clock):
    lv = levels
    login(client, "d-editor")
    r = _post(client, f"/app/bulletins/district/{lv.district}/compose", title="", text="x")
    assert r.status_code == 422 and "Hãy nhập tiêu đề" in r.text


def test_a_rejected_bulletin_is_edited_read_aloud_again_and_resubmitted(client, levels):
    lv = levels
    login(client, "d-editor")
    page = _post(client, f"/app/bulletins/district/{lv.district}/compose", title="Họp dân",
                 text="Tối nay họp dân.").headers["location"]
    _post(client, f"{page}/submit")
    login(client, "d-approver")
    assert _post(client, f"{page}/reject", reason="Thiếu giờ họp").status_code == 303
    login(client, "d-editor")
    html = client.get(page).text
    assert "Thiếu giờ họp" in html and 'id="edit-bulletin"' in html
    before = client.get(page.replace("/app/bulletin/", "/api/v1/bulletins/"), headers=lv.h("d_editor")).json()
    assert _post(client, f"{page}/edit", title="Họp dân", text="Tối nay bảy giờ họp dân ở nhà văn hoá.").status_code == 303
    after = client.get(page.replace("/app/bulletin/", "/api/v1/bulletins/"), headers=lv.h("d_editor")).json()
    assert (after["status"], after["version"]) == ("draft", before["version"] + 1)
    assert after["audio_sha256"] != before["audio_sha256"]  # the new words were read aloud again
    assert _post(client, f"{page}/submit").status_code == 303


def test_a_normal_bulletin_not_scheduled_before_its_expiry_expires(client, levels, clock):
    lv = levels
    b = client.post(f"/api/v1/areas/district/{lv.district}/bulletins", headers=lv.h("d_editor"),
                    json={"title": "Tin ngắn hạn", "text": "Chiều nay cắt điện."}).json()
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("d_editor"))
    client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("d_approver"), json={"audio_sha256": b["audio_sha256"]})
    client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("d_approver"),
                json={"level": "normal", "expires_at": (clock() + timedelta(hours=4)).isoformat(), "communes": [lv.w.a]})
    clock.advance(hours=5)
    [item] = client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json()
    assert item["state"] == "expired"
    r = client.post(f"/api/v1/bulletin-inbox/{item['id']}/accept", headers=lv.h("cadre"),
                    json={"at": (clock() + timedelta(hours=1)).isoformat()})
    assert r.status_code == 409
    [delivery] = client.get(f"/api/v1/bulletins/{b['id']}/tracking", headers=lv.h("d_editor")).json()["deliveries"]
    assert delivery["state"] == "expired"


def test_the_cadre_orders_a_clashing_priority_bulletin_in_the_inbox_page(client, app, engine, levels, facts, clock):
    from loa.db import session_scope
    from schedules.bulletins import service
    from schedules.tables import ScheduleRule, TimetablePlay
    from sqlmodel import select
    from tests.schedules.bulletins.test_receive import _bulletin, _own_schedule

    own = _own_schedule(engine, levels, facts, clock, "priority")
    app.state.schedules.materialize_commune(levels.w.a, clock())
    with session_scope(engine) as s:
        [item] = service.receive(s, _bulletin(facts, clock(), level="priority"), clock())
        item_id = item.id
    login(client, "cadre")
    html = client.get(f"/app/c/{levels.w.a}/inbox").text
    assert "Tin ưu tiên của xã" in html and "Phát trước tin của xã" in html and "Phát sau tin của xã" in html
    assert _post(client, f"/app/c/{levels.w.a}/inbox/{item_id}/order", order="after").status_code == 303
    with session_scope(engine) as s:
        own_end = s.exec(select(TimetablePlay).where(TimetablePlay.rule_key == f"s{own}")).first().end
        from schedules.bulletins.models import InboxItem

        row = s.get(InboxItem, item_id)
        assert row.state == "scheduled" and s.get(ScheduleRule, row.schedule_id).at == own_end
