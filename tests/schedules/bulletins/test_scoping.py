"""Staff see only their area, on every bulletin route: another province's staff (the attacker), another
district's staff and a commune cadre get 404 (nothing leaks), a wrong role 403; the commune inbox answers only
to that commune's members."""
from __future__ import annotations

from datetime import timedelta

import pytest


def _sent(client, lv, clock):
    """A district bulletin, approved and sent to commune A as normal, and one draft."""
    b = client.post(f"/api/v1/areas/district/{lv.district}/bulletins", headers=lv.h("d_editor"),
                    json={"title": "Tin huyện", "text": "Bà con chú ý."}).json()
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("d_editor"))
    client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("d_approver"),
                json={"audio_sha256": b["audio_sha256"]})
    client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("d_approver"),
                json={"level": "normal", "expires_at": (clock() + timedelta(days=1)).isoformat(),
                      "communes": [lv.w.a]})
    draft = client.post(f"/api/v1/areas/district/{lv.district}/bulletins", headers=lv.h("d_editor"),
                        json={"title": "Nháp", "text": "Bản nháp."}).json()
    [item] = client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json()
    return b, draft, item


OUTSIDERS = ("yb_editor", "yb_approver", "d2_approver", "cadre", "outsider")


def test_every_area_route_is_404_outside_the_area(client, levels, clock):
    lv = levels
    b, draft, _ = _sent(client, lv, clock)
    at = (clock() + timedelta(days=1)).isoformat()
    routes = [
        ("get", f"/api/v1/areas/district/{lv.district}/bulletins", None),
        ("post", f"/api/v1/areas/district/{lv.district}/bulletins", {"title": "x", "text": "y"}),
        ("get", f"/api/v1/bulletins/{b['id']}", None),
        ("get", f"/api/v1/bulletins/{b['id']}/audio", None),
        ("patch", f"/api/v1/bulletins/{draft['id']}", {"title": "đổi"}),
        ("post", f"/api/v1/bulletins/{draft['id']}/submit", None),
        ("post", f"/api/v1/bulletins/{draft['id']}/approve", {"audio_sha256": draft["audio_sha256"]}),
        ("post", f"/api/v1/bulletins/{draft['id']}/reject", {"reason": "không"}),
        ("post", f"/api/v1/bulletins/{draft['id']}/send", {"level": "emergency", "expires_at": at,
                                                           "communes": [lv.w.a]}),
        ("get", f"/api/v1/bulletins/{b['id']}/tracking", None),
        ("get", f"/api/v1/areas/district/{lv.district}/rollup", None),
        ("get", f"/api/v1/areas/district/{lv.district}/rollup.csv", None),
    ]
    for who in OUTSIDERS:
        for method, url, body in routes:
            kw = {"json": body} if body is not None else {}
            r = getattr(client, method)(url, headers=lv.h(who), **kw)
            assert r.status_code == 404, (who, method, url, r.status_code, r.text)
    # the province above reads the district's bulletins and roll-up, but acts only at its own level
    assert client.get(f"/api/v1/bulletins/{b['id']}/tracking", headers=lv.h("p_approver")).status_code == 200
    assert client.get(f"/api/v1/areas/district/{lv.district}/rollup", headers=lv.h("p_editor")).status_code == 200
    assert client.post(f"/api/v1/bulletins/{draft['id']}/submit", headers=lv.h("p_editor")).status_code == 403
    assert client.get(f"/api/v1/areas/province/{lv.w.province}/bulletins", headers=lv.h("d_editor")).status_code == 404
    assert client.get("/api/v1/areas/province/1/bulletins").status_code == 401


def test_another_province_cannot_target_our_communes(client, levels, clock):
    lv = levels
    b = client.post(f"/api/v1/areas/province/{lv.province2}/bulletins", headers=lv.h("yb_editor"),
                    json={"title": "Tin tỉnh khác", "text": "Thử."}).json()
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("yb_editor"))
    client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("yb_approver"),
                json={"audio_sha256": b["audio_sha256"]})
    at = (clock() + timedelta(days=1)).isoformat()
    for target in ({"communes": [lv.w.a]}, {"districts": [lv.district]}):
        r = client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("yb_approver"),
                        json={"level": "emergency", "expires_at": at, **target})
        assert r.status_code == 404, r.text
    assert client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json() == []
    # a district sends only inside itself
    d = client.post(f"/api/v1/areas/district/{lv.district}/bulletins", headers=lv.h("d_editor"),
                    json={"title": "Tin huyện", "text": "Thử."}).json()
    client.post(f"/api/v1/bulletins/{d['id']}/submit", headers=lv.h("d_editor"))
    client.post(f"/api/v1/bulletins/{d['id']}/approve", headers=lv.h("d_approver"), json={"audio_sha256": d["audio_sha256"]})
    r = client.post(f"/api/v1/bulletins/{d['id']}/send", headers=lv.h("d_approver"),
                    json={"level": "normal", "expires_at": at, "communes": [lv.w.b]})
    assert r.status_code == 404


@pytest.mark.parametrize("who", ["yb_approver", "d_approver", "outsider", "village_head"])
def test_the_inbox_is_the_communes_own(client, levels, clock, who):
    lv = levels
    _, _, item = _sent(client, lv, clock)
    at = (clock() + timedelta(hours=2)).isoformat()
    expected = 403 if who == "village_head" else 404
    if who != "village_head":
        assert client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h(who)).status_code == 404
    for action, body in (("accept", {"at": at}), ("order", {"order": "after"}), ("refuse", {"reason": "x"})):
        r = client.post(f"/api/v1/bulletin-inbox/{item['id']}/{action}", headers=lv.h(who), json=body)
        assert r.status_code == expected, (action, r.text)


def test_bad_input_is_refused_with_a_clear_message(client, levels, clock):
    lv = levels
    b, _, item = _sent(client, lv, clock)
    r = client.post(f"/api/v1/bulletin-inbox/{item['id']}/accept", headers=lv.h("cadre"),
                    json={"at": (clock() + timedelta(days=3)).isoformat()})
    assert r.status_code == 422 and r.json()["code"] == "after_expiry"
    r = client.post(f"/api/v1/bulletin-inbox/{item['id']}/order", headers=lv.h("cadre"), json={"order": "after"})
    assert r.status_code == 409 and r.json()["code"] == "wrong_level"
    r = client.get(f"/api/v1/areas/district/{lv.district}/rollup?first=2026-03-05&last=2026-03-01",
                   headers=lv.h("d_editor"))
    assert r.status_code == 422
