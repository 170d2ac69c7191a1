"""Issue 13 in the web app: the review page plays the audio by its hash and approves exactly that hash, shows
who wrote or changed the item, refuses a reviewer who changed it; a failed render says why and how to fix it."""
from __future__ import annotations

import re

from tests.api.web.web_rig import login, make_item


def _hidden(html: str, item: int) -> str | None:
    block = html.split(f'id="review-{item}"', 1)[1].split('class="item review"', 1)[0]
    match = re.search(r'name="reviewed_sha256" value="([0-9a-f]{64})"', block)
    return match.group(1) if match else None


def test_review_page_approves_the_hash_it_plays(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="submitted")
    token = login(client, "cadre")
    page = client.get(f"/app/c/{world.a}/review").text
    assert _hidden(page, item) == facts.sha256
    assert f'src="/api/v1/content/{item}/audio?v={facts.sha256}"' in page  # the player plays that hash
    assert "secretary" in page.split(f'id="review-{item}"', 1)[1] and "tải bản ghi âm" in page  # contributors
    played = client.get(f"/api/v1/content/{item}/audio?v={facts.sha256}")
    assert played.status_code == 200 and played.headers["etag"] == f'"{facts.sha256}"'
    # no hash: 422; a hash of other audio: 409; nothing changes either time
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token})
    assert r.status_code == 422
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token, "reviewed_sha256": "0" * 64})
    assert r.status_code == 409 and "thay đổi" in r.text
    assert client.get(f"/api/v1/content/{item}").json()["status"] == "submitted"
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token, "reviewed_sha256": facts.sha256},
                    follow_redirects=False)
    assert r.status_code == 303 and client.get(f"/api/v1/content/{item}").json()["status"] == "approved"


def test_a_cadre_who_edits_by_form_cannot_approve(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="submitted")
    token = login(client, "cadre")
    page = client.get(f"/app/items/{item}").text
    assert 'action="/app/items/%d/edit"' % item in page and 'name="reviewed_sha256"' in page
    r = client.post(f"/app/items/{item}/edit", data={"csrf": token, "transcript": "Lời của cán bộ"},
                    follow_redirects=False)
    assert r.status_code == 303
    body = client.get(f"/api/v1/content/{item}").json()
    assert body["status"] == "draft" and body["transcript"] == "Lời của cán bộ" and body["version"] == 2
    r = client.post(f"/app/items/{item}/submit", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    queue = client.get(f"/app/c/{world.a}/review").text
    assert _hidden(queue, item) is None and "một cán bộ khác phải duyệt" in queue.split(f'id="review-{item}"')[1]
    assert "sửa lời ghi" in queue  # the cadre's change is listed with who made it
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token, "reviewed_sha256": facts.sha256})
    assert r.status_code == 403
    client.cookies.clear()
    token = login(client, "cadre2")
    assert _hidden(client.get(f"/app/c/{world.a}/review").text, item) == facts.sha256
    r = client.post(f"/app/items/{item}/approve", data={"csrf": token, "reviewed_sha256": facts.sha256},
                    follow_redirects=False)
    assert r.status_code == 303 and client.get(f"/api/v1/content/{item}").json()["status"] == "approved"


def test_failed_render_shows_the_reason_and_the_fixes(client, app, world, clock):
    from station.handlers import default_handlers
    from loa.jobs.worker import Worker

    token = login(client, "secretary")
    r = client.post(f"/app/c/{world.a}/compose", data={"csrf": token, "title": "Thử", "text": "... !!! ???",
                                                       "engine": "auto", "speed": "1.0"}, follow_redirects=False)
    assert r.status_code == 303
    item = int(r.headers["location"].rsplit("/", 1)[1])
    Worker(app.state.engine, app.state.settings, default_handlers(), clock).run_until_idle(clock())
    page = client.get(f"/app/items/{item}").text
    assert "Đang làm âm thanh" not in page and 'http-equiv="refresh"' not in page
    assert "Không làm được âm thanh." in page and "Văn bản không có chữ nào đọc được" in page
    assert 'id="render-failed"' in page and "sửa văn bản" in page
    assert 'action="/app/items/%d/edit"' % item in page
    # fix the words by the form: it renders
    r = client.post(f"/app/items/{item}/edit", data={"csrf": token, "text": "Thử.", "engine": "espeak", "voice": ""},
                    follow_redirects=False)
    assert r.status_code == 303
    Worker(app.state.engine, app.state.settings, default_handlers(), clock).run_until_idle(clock())
    assert client.get(f"/api/v1/content/{item}").json()["render_state"] == "ready"


def test_retry_button_after_a_passing_failure(client, app, world, clock):
    from content.library import service as library
    from content.library.models import ContentItem
    from loa.db import session_scope

    token = login(client, "secretary")
    r = client.post(f"/app/c/{world.a}/compose", data={"csrf": token, "title": "Thử", "text": "Xin chào bà con",
                                                       "engine": "espeak", "speed": "1.0"}, follow_redirects=False)
    item = int(r.headers["location"].rsplit("/", 1)[1])
    with session_scope(app.state.engine) as s:  # as the job leaves it after its last attempt at the network voice
        row = s.get(ContentItem, item)
        library.apply_render(s, item, row.render_generation, None, clock(), error_code="engine_unavailable",
                             error="Bộ đọc chưa dùng được lúc này: mất mạng / The voice is not usable now: offline")
    page = client.get(f"/app/items/{item}", headers={"Accept-Language": "en"}).text
    assert "The voice is not usable now" in page and 'id="retry"' in page and "try again later" in page
    r = client.post(f"/app/items/{item}/retry", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/content/{item}").json()["render_state"] == "pending"
