"""The cadre/secretary pages through HTTP: login, CSRF on forms, the approval flow by forms, role and commune
scoping identical to the API (another commune's objects are 404), and the page weight budget."""
from __future__ import annotations

import re

import pytest

from tests.api.web.web_rig import PASSWORD, form_token, login, make_item


def test_login_page_and_bad_password(client, world):
    r = client.get("/login")
    assert r.status_code == 200 and 'name="password"' in r.text and 'type="password"' in r.text
    r = client.post("/login", data={"username": "cadre", "password": "sai-mat-khau-roi", "next": "/app"})
    assert r.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in r.text or "mật khẩu" in r.text
    assert "loa_session" not in client.cookies


def test_pages_need_login(client, world):
    r = client.get(f"/app/c/{world.a}/library", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fapp%2Fc%2F")


def test_login_sets_api_cookies_and_redirects_to_the_commune(client, world):
    token = login(client, "secretary")
    assert token and client.cookies.get("loa_session")
    r = client.get("/app", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/c/{world.a}"
    home = client.get(r.headers["location"])
    assert "Cốc San" in home.text and form_token(home.text) == token
    # The same session works for the JSON API (one auth system).
    assert client.get("/api/v1/auth/me").json()["username"] == "secretary"


def test_open_redirect_refused(client, world):
    r = client.post("/login", data={"username": "cadre", "password": PASSWORD, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app"


def test_form_without_csrf_changes_nothing(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="submitted")
    login(client, "cadre")
    r = client.post(f"/app/items/{item}/approve", data={"csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert client.get(f"/api/v1/content/{item}").json()["status"] == "submitted"


def test_approval_flow_by_forms(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="draft")
    token = login(client, "secretary")
    page = client.get(f"/app/items/{item}")
    assert 'action="/app/items/%d/submit"' % item in page.text
    assert 'action="/app/items/%d/approve"' % item not in page.text  # a secretary does not review
    r = client.post(f"/app/items/{item}/submit", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    token = login(client, "cadre")
    queue = client.get(f"/app/c/{world.a}/review")
    assert queue.status_code == 200 and f'id="review-{item}"' in queue.text
    assert "Mời bà con đi họp" in queue.text  # the cadre reads the transcript next to the player
    # Reject needs a reason: the service's rule, shown as a page with the same status.
    r = client.post(f"/app/items/{item}/reject", data={"csrf": token, "reason": "  "})
    assert r.status_code == 422
    r = client.post(f"/app/items/{item}/reject", data={"csrf": token, "reason": "Thiếu giờ họp", "confirmed": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/content/{item}").json()["reject_reason"] == "Thiếu giờ họp"
    assert "Thiếu giờ họp" in client.get(f"/app/items/{item}").text


def test_author_cannot_approve_own_item(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), author="cadre", status="submitted")
    token = login(client, "cadre")
    assert "another cadre must approve" in client.get(f"/app/c/{world.a}/review",
                                                       headers={"Accept-Language": "en"}).text
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token})
    assert r.status_code == 403
    client.cookies.clear()
    token = login(client, "cadre2")
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token, "next": f"/app/c/{world.a}/review",
                                                        "reviewed_sha256": facts.sha256}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/c/{world.a}/review"
    assert client.get(f"/api/v1/content/{item}").json()["status"] == "approved"


@pytest.mark.parametrize("path", ["/app/c/{a}", "/app/c/{a}/library", "/app/c/{a}/compose", "/app/c/{a}/record",
                                  "/app/c/{a}/review", "/app/items/{item}"])
def test_other_commune_is_404(client, app, world, facts, clock, path):
    item = make_item(app, world, facts, clock(), status="approved")
    login(client, "outsider")
    r = client.get(path.format(a=world.a, item=item))
    assert r.status_code == 404 and "<html" in r.text


def test_roles_match_the_api(client, app, world, facts, clock):
    draft = make_item(app, world, facts, clock(), status="draft")  # commune-wide draft by the secretary
    login(client, "village_head")
    assert client.get(f"/app/c/{world.a}/review").status_code == 403
    assert client.get(f"/app/items/{draft}").status_code == 404  # as GET /api/v1/content/{id}
    assert client.get(f"/api/v1/content/{draft}").status_code == 404
    page = client.get(f"/app/c/{world.a}/compose")
    assert page.status_code == 200 and "Toàn xã" not in page.text  # a head writes for their own village only


def test_library_filters_and_search(client, app, world, facts, clock):
    make_item(app, world, facts, clock(), title="Tiêm phòng cho trâu bò", status="approved")
    make_item(app, world, facts, clock(), title="Họp chi bộ", status="draft", language="pcc",
              village_id=world.village_a)
    login(client, "cadre")
    page = client.get(f"/app/c/{world.a}/library", params={"q": "trâu"})
    assert "Tiêm phòng cho trâu bò" in page.text and "Họp chi bộ" not in page.text
    page = client.get(f"/app/c/{world.a}/library", params={"language": "pcc"})
    assert "Họp chi bộ" in page.text and "Tiêm phòng" not in page.text
    page = client.get(f"/app/c/{world.a}/library", params={"status": "approved"})
    assert "Tiêm phòng" in page.text and "Họp chi bộ" not in page.text
    assert page.text.count("<audio") == 1 and 'preload="none"' in page.text


PAGES = ["/", "/login", "/app/c/{a}", "/app/c/{a}/compose", "/app/c/{a}/record", "/app/c/{a}/library",
         "/app/c/{a}/review", "/app/items/{item}", "/app/c/{a}/schedule", "/app/c/{a}/emergency",
         "/app/c/{a}/devices", "/app/c/{a}/reports", "/r/{a}", "/r/{a}/v/{v}"]


def test_every_page_is_light(client, app, world, facts, clock):
    """A page plus its CSS and JS stays under 100 KB (a weak 3G link), audio excluded."""
    for i in range(25):  # a full library page
        make_item(app, world, facts, clock(), title=f"Thông báo số {i} về lịch tiêm phòng", status="approved")
    item = make_item(app, world, facts, clock(), status="submitted")
    login(client, "cadre")
    for path in PAGES:
        r = client.get(path.format(a=world.a, item=item, v=world.village_a))
        assert r.status_code == 200, path
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', r.text)
        assert any(a.startswith("/static/app.css") for a in assets) and any(".js" in a for a in assets)
        total = len(r.content) + sum(len(client.get(a).content) for a in assets)
        assert total < 100 * 1024, (path, total)


def test_pages_stay_out_of_the_api_document(app):
    # The API lives under /api/; /metrics is the one system endpoint (Prometheus) documented beside it.
    paths = [p for p in app.openapi()["paths"] if p != "/metrics"]
    assert all(p.startswith("/api/") for p in paths), [p for p in paths if not p.startswith("/api/")]
