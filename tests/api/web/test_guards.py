"""Guard rails over HTTP (issue 14): every action says what happened (a known code, never text from a URL);
reject, archive and stop ask first on the server and change nothing until confirmed; a text longer than the
station's longest programme is refused by the form and the API with nothing stored; a refused overlap offers
checked ways forward; "sáng mai" in a daily schedule with no end is warned about; the villages of a schedule are
never ticked for the cadre; unknown URLs and server errors are pages in the reader's language (the JSON API stays
JSON); a favicon."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.web.web_rig import login, make_item

SENTENCE = "Bà con thôn Ún Tà đi họp ở nhà văn hóa. "  # eleven spoken syllables


def _flash(page: str) -> str:
    match = re.search(r'id="flash">(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


def _limit(client, world, seconds: int) -> None:
    r = client.put(f"/api/v1/communes/{world.a}/station-settings", headers={"X-CSRF-Token": client.cookies["loa_csrf"]},
                   json={"max_programme_s": seconds})
    assert r.status_code == 200, r.text


def test_actions_say_what_happened_once_and_only_known_codes(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="draft")
    token = login(client, "secretary")
    r = client.post(f"/app/items/{item}/submit", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/items/{item}"  # the URL carries nothing
    page = client.get(r.headers["location"]).text
    assert "Đã gửi duyệt" in _flash(page)
    assert _flash(client.get(f"/app/items/{item}").text) == ""  # said once
    # a link cannot make the station say something: only the known codes mean anything
    assert _flash(client.get(f"/app/items/{item}", params={"done": "<b>Trả tiền vào tài khoản X</b>"}).text) == ""
    client.cookies.set("loa_done", "Chuyen-tien-ngay-vao-tai-khoan-X")
    assert _flash(client.get(f"/app/items/{item}").text) == ""
    assert "Đã duyệt" in _flash(client.get(f"/app/items/{item}", params={"done": "approved"}).text)
    client.cookies.set("loa_lang", "en")
    assert "Approved. It can now be scheduled." in _flash(client.get(f"/app/items/{item}?done=approved").text)


def test_reject_and_archive_ask_first_and_change_nothing_until_confirmed(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), status="submitted")
    token = login(client, "secretary")
    # a secretary may not reject: refused at once, not asked
    assert client.post(f"/app/items/{item}/reject", data={"csrf": token, "reason": "x"}).status_code == 403
    client.cookies.clear()
    token = login(client, "cadre")
    assert client.post(f"/app/items/{item}/reject", data={"csrf": token, "reason": " "}).status_code == 422
    asked = client.post(f"/app/items/{item}/reject", data={"csrf": token, "reason": "Thiếu giờ họp"},
                        follow_redirects=False)
    assert asked.status_code == 200 and "Từ chối thông báo này?" in asked.text and "«Thiếu giờ họp»" in asked.text
    assert 'name="confirmed" value="1"' in asked.text and 'name="reason" value="Thiếu giờ họp"' in asked.text
    assert client.get(f"/api/v1/content/{item}").json()["status"] == "submitted"  # nothing happened yet
    done = client.post(f"/app/items/{item}/reject", data={"csrf": token, "reason": "Thiếu giờ họp",
                                                          "confirmed": "1"})
    assert "Đã từ chối" in _flash(done.text) and client.get(f"/api/v1/content/{item}").json()["status"] == "rejected"
    asked = client.post(f"/app/items/{item}/archive", data={"csrf": token})
    assert "Lưu trữ thông báo này?" in asked.text
    assert client.get(f"/api/v1/content/{item}").json()["status"] == "rejected"
    done = client.post(f"/app/items/{item}/archive", data={"csrf": token, "confirmed": "1"})
    assert "Đã lưu trữ" in _flash(done.text) and client.get(f"/api/v1/content/{item}").json()["status"] == "archived"
    # without the CSRF token, not even the question
    assert client.post(f"/app/items/{item}/archive", data={"csrf": "x"}).status_code == 403


def test_stop_asks_first(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Tiêm phòng", status="approved")
    token = login(client, "cadre")
    r = client.post(f"/app/c/{world.a}/schedule", data={
        "csrf": token, "item_id": str(item), "preset": "daily_6_17", "villages": [str(world.village_a)],
        "action": "save"}, follow_redirects=False)
    assert r.status_code == 303
    (rule,) = client.get(f"/api/v1/communes/{world.a}/schedules").json()
    assert "Đã lưu lịch" in _flash(client.get(r.headers["location"]).text)
    asked = client.post(f"/app/schedules/{rule['id']}/cancel", data={"csrf": token}, follow_redirects=False)
    assert asked.status_code == 200 and "Dừng lịch này?" in asked.text and 'id="confirm-yes"' in asked.text
    assert client.get(f"/api/v1/schedules/{rule['id']}").json()["cancelled_at"] is None
    r = client.post(f"/app/schedules/{rule['id']}/cancel", data={"csrf": token, "confirmed": "1"},
                    follow_redirects=False)
    assert r.status_code == 303 and client.get(f"/api/v1/schedules/{rule['id']}").json()["cancelled_at"]
    assert "Đã dừng lịch" in _flash(client.get(r.headers["location"]).text)
    # stopped already: said so, not asked again
    assert client.post(f"/app/schedules/{rule['id']}/cancel", data={"csrf": token}).status_code == 409
    client.cookies.clear()
    token = login(client, "secretary")
    assert client.post(f"/app/schedules/{rule['id']}/cancel", data={"csrf": token}).status_code == 403


def test_the_words_preview_says_the_airtime(client, world):
    login(client, "cadre")
    _limit(client, world, 600)
    client.cookies.clear()
    login(client, "secretary")
    headers = {"X-CSRF-Token": client.cookies["loa_csrf"]}
    url = f"/app/c/{world.a}/compose/words"
    short = client.post(url, json={"text": SENTENCE}, headers=headers).json()["airtime"]
    assert short["level"] == "ok" and short["text"] == "Thời lượng phát ước tính: khoảng 10 giây."
    long_ = client.post(url, json={"text": SENTENCE * 140}, headers=headers).json()["airtime"]
    assert long_["level"] == "long" and "khoảng 6 phút 30 giây" in long_["text"] and "Quá 5 phút" in long_["text"]
    assert client.post(url, json={"text": SENTENCE * 140, "speed": 1.3}, headers=headers).json()["airtime"]["level"] \
        == "ok"
    over = client.post(url, json={"text": SENTENCE * 240}, headers=headers).json()["airtime"]
    assert over["level"] == "over" and "(10 phút)" in over["text"] and over["limit_s"] == 600
    english = client.post(url, json={"text": SENTENCE * 240}, headers={**headers, "Accept-Language": "en"})
    assert "about 11 min 00 s" in english.json()["airtime"]["text"]  # no cookie: Accept-Language


def test_a_text_over_the_station_limit_is_refused_and_kept(client, app, world):
    from sqlmodel import select

    from content.library.models import ContentItem
    from loa.db import session_scope

    login(client, "cadre")
    _limit(client, world, 600)
    client.cookies.clear()
    token = login(client, "secretary")
    text = SENTENCE * 240
    r = client.post(f"/app/c/{world.a}/compose", data={"csrf": token, "title": "Họp dài", "text": text,
                                                       "engine": "espeak", "speed": "1.0", "action": "save"},
                    follow_redirects=False)
    assert r.status_code == 422 and "Dài hơn mức đài cho phép" in r.text
    assert text.strip() in r.text and 'value="Họp dài"' in r.text  # nothing lost
    api = client.post(f"/api/v1/communes/{world.a}/content", headers={"X-CSRF-Token": token},
                      json={"title": "Họp dài", "text": text, "kind": "guidance"})
    assert api.status_code == 422 and api.json()["code"] == "text_too_long_to_air"
    assert api.json()["limit_s"] == 600 and api.json()["estimated_s"] > 600
    with session_scope(app.state.engine) as s:
        assert not s.exec(select(ContentItem).where(ContentItem.title == "Họp dài")).all()
    # a shorter text fits, and is saved
    shorter = SENTENCE * 150
    r = client.post(f"/app/c/{world.a}/compose", data={"csrf": token, "title": "Họp", "text": shorter,
                                                       "engine": "espeak", "speed": "1.2", "action": "save"},
                    follow_redirects=False)
    assert r.status_code == 303


def test_schedule_form_villages_are_never_ticked(client, app, world, facts, clock):
    make_item(app, world, facts, clock(), status="approved")
    login(client, "cadre")
    for params in ({}, {"village": world.village_a}, {"village": world.village_a2}):
        page = client.get(f"/app/c/{world.a}/schedule", params=params).text
        form = page[page.index('id="schedule-form"'):]
        assert not re.search(r'name="(villages|whole_commune)" value="[^"]*" checked', form)
        assert form.index('id="targets"') < form.index('id="item_id"')  # chosen first, at the top


def test_a_refused_overlap_offers_ways_forward_that_save(client, app, world, facts, clock):
    first = make_item(app, world, facts, clock(), title="Tiêm phòng", status="approved")
    second = make_item(app, world, facts, clock(), title="Họp thôn", status="approved",
                       transcript="Sáng mai họp thôn ở nhà văn hóa")
    token = login(client, "cadre")
    base = {"csrf": token, "preset": "daily_6_17", "villages": [str(world.village_a)], "start_date": "2026-03-02"}
    assert client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(first), "action": "save"},
                       follow_redirects=False).status_code == 303
    check = client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(second), "action": "check"})
    assert check.status_code == 200 and "Không lưu được" in check.text
    assert "«Sáng mai»" in check.text  # the transcript says "tomorrow morning", daily, with no end
    ways = dict(re.findall(r'class="way" id="way-(\w+)">(.*?)</form>', check.text, re.S))
    assert set(ways) == {"after", "priority", "time"}
    # saving as it is: 409, the form kept, the ways offered again
    refused = client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(second), "action": "save"})
    assert refused.status_code == 409 and 'id="way-time"' in refused.text
    assert len(client.get(f"/api/v1/communes/{world.a}/schedules").json()) == 1
    for kind in ("after", "priority", "time"):
        fields: dict[str, list[str]] = {}
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', ways[kind]):
            fields.setdefault(name, []).append(value)
        r = client.post(f"/app/c/{world.a}/schedule", data={**fields, "action": "save"}, follow_redirects=False)
        assert r.status_code == 303, (kind, r.text[-2000:])
        rule = client.get(f"/api/v1/communes/{world.a}/schedules").json()[-1]
        assert rule["targets"]["villages"] == [world.village_a]
        if kind == "priority":
            assert rule["priority"] == "priority" and rule["times"] == ["06:00", "17:00"]
        else:
            assert rule["priority"] == "normal" and rule["times"] != ["06:00", "17:00"]
        client.post(f"/app/schedules/{rule['id']}/cancel", data={"csrf": token, "confirmed": "1"})
    # the API's own preview carries the stale-words warning too
    body = {"title": "Họp", "rrule": "FREQ=DAILY", "starts_at": "2026-03-03T00:00:00+07:00", "times": ["12:00"],
            "targets": {"villages": [world.village_a]}, "programme": [{"type": "item", "content_id": second}]}
    preview = client.post(f"/api/v1/communes/{world.a}/schedules/preview", json=body,
                          headers={"X-CSRF-Token": token}).json()
    assert any("Sáng mai" in w for w in preview["warnings"])
    body["rrule"] = "FREQ=DAILY;UNTIL=20260310"
    preview = client.post(f"/api/v1/communes/{world.a}/schedules/preview", json=body,
                          headers={"X-CSRF-Token": token}).json()
    assert not any("Sáng mai" in w for w in preview["warnings"])


def test_error_pages_in_the_readers_language_and_json_for_the_api(app):
    @app.get("/app/boom-for-test")
    def boom():
        raise RuntimeError("secret detail 42")

    with TestClient(app, raise_server_exceptions=False) as c:
        page = c.get("/khong-co-trang-nay", headers={"Accept": "text/html"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Không tìm thấy trang" in page.text and 'lang="vi"' in page.text
        assert '"code"' not in page.text  # a page, not the JSON problem
        assert c.get("/api/v1/khong-co").headers["content-type"] == "application/problem+json"
        assert c.get("/khong-co", headers={"Accept": "application/json"}).json()["code"] == "not_found"
        err = c.get("/app/boom-for-test")
        assert err.status_code == 500 and "Lỗi máy chủ" in err.text and "secret detail" not in err.text
        assert "content-security-policy" in err.headers
        c.cookies.set("loa_lang", "en")
        page = c.get("/khong-co-trang-nay")
        assert 'lang="en"' in page.text and "Page not found" in page.text and "Không" not in page.text
        assert "Internal server error" in c.get("/app/boom-for-test").text
        icon = c.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
        assert icon.content[:4] == b"\0\0\1\0"  # an ICO header
        assert 'rel="icon"' in c.get("/login").text


@pytest.mark.parametrize("path", ["/r", "/login"])
def test_pages_link_the_favicon(client, path):
    page = client.get(path).text
    assert '<link rel="icon" href="/static/favicon.svg' in page and '<link rel="icon" href="/favicon.ico"' in page
    svg = re.search(r'href="(/static/favicon\.svg[^"]*)"', page).group(1)
    assert client.get(svg).headers["content-type"] == "image/svg+xml"


def test_why_a_play_will_not_air_is_said_in_words(client, app, world, facts, clock):
    item = make_item(app, world, facts, clock(), title="Tin khuya", status="approved")
    token = login(client, "cadre")
    r = client.post(f"/app/c/{world.a}/schedule", data={
        "csrf": token, "item_id": str(item), "preset": "daily", "times": "23:00", "start_date": "2026-03-02",
        "villages": [str(world.village_a)], "action": "save"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    week = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    assert "sẽ không phát (giờ yên tĩnh)" in week and "quiet_hours" not in week
    client.cookies.set("loa_lang", "en")
    week = client.get(f"/app/c/{world.a}/schedule", params={"village": world.village_a}).text
    assert "(quiet hours)" in week and "quiet_hours" not in week


def test_right_after_the_clash_skips_past_the_next_play_too(client, app, world, facts, clock):
    first = make_item(app, world, facts, clock(), title="Tin một", status="approved")
    second = make_item(app, world, facts, clock(), title="Tin hai", status="approved")
    mine = make_item(app, world, facts, clock(), title="Tin ba", status="approved")
    token = login(client, "cadre")
    base = {"csrf": token, "preset": "daily", "villages": [str(world.village_a)], "start_date": "2026-03-02"}
    for item, at in ((first, "06:00"), (second, "06:02")):  # short plays: "after 06:00" is 06:02, taken too
        r = client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(item), "times": at,
                                                             "action": "save"}, follow_redirects=False)
        assert r.status_code == 303
    check = client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(mine), "times": "06:00",
                                                            "action": "check"})
    after = re.search(r'id="way-after">(.*?)</form>', check.text, re.S).group(1)
    assert 'name="times" value="06:04"' in after and "Phát ngay sau «Tin hai», lúc 06:04" in after



def test_right_after_the_clash_counts_a_one_off_to_the_second(client, app, world, facts, clock):
    """A one-off starts where the cadre's click put it, seconds and all. Read as a whole minute, a one-off at
    06:01:55 lasting a few seconds seemed over by 06:02, so "just after" the 06:00 play offered nothing (the real
    check refused 06:02), as the README walkthrough met when its demo's test play fell just before 06:11."""
    first = make_item(app, world, facts, clock(), title="Tin một", status="approved")
    mine = make_item(app, world, facts, clock(), title="Tin ba", status="approved")
    token = login(client, "cadre")
    base = {"csrf": token, "preset": "daily", "villages": [str(world.village_a)], "start_date": "2026-03-02"}
    r = client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(first), "times": "06:00",
                                                         "action": "save"}, follow_redirects=False)
    assert r.status_code == 303
    daily = client.get(f"/api/v1/communes/{world.a}/schedules").json()[0]
    d = daily["duration_s"]
    assert 0 < d % 60 < 59, d  # a play that ends within a minute, not on one
    # "just after" the daily play is the first whole minute a minute after it ends; the one-off ends past it
    after_first = datetime(2026, 3, 3, 6, 0, tzinfo=clock().tzinfo) + timedelta(seconds=math.ceil((d + 60) / 60) * 60)
    at = after_first - timedelta(seconds=math.floor(d)) - timedelta(seconds=0 if d % 1 else 1)
    assert at.second != 0 and at.replace(second=0) + timedelta(seconds=d) <= after_first < at + timedelta(seconds=d)
    one_off = {"title": "Thông báo lẻ", "at": at.isoformat(), "targets": {"villages": [world.village_a]},
               "programme": [{"type": "item", "content_id": first}]}
    r = client.post(f"/api/v1/communes/{world.a}/schedules", json=one_off, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    check = client.post(f"/app/c/{world.a}/schedule", data={**base, "item_id": str(mine), "times": "06:00",
                                                            "action": "check"})
    ways = dict(re.findall(r'class="way" id="way-(\w+)">(.*?)</form>', check.text, re.S))
    assert "after" in ways, ways.keys()
    later = math.ceil((at.hour * 3600 + at.minute * 60 + at.second + d + 60) / 60)
    assert f'name="times" value="{later // 60:02d}:{later % 60:02d}"' in ways["after"]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', ways["after"]):
        fields.setdefault(name, []).append(value)
    r = client.post(f"/app/c/{world.a}/schedule", data={**fields, "action": "save"}, follow_redirects=False)
    assert r.status_code == 303

def test_flash_codes_are_the_only_messages():
    from api.web.flash import MESSAGES, message_for, pending_code, with_done

    assert with_done("/app/c/1/schedule?village=2&done=saved", "schedule_saved") == \
        "/app/c/1/schedule?village=2&done=schedule_saved"
    with pytest.raises(ValueError):
        with_done("/app", "<script>")
    assert pending_code("nope", "approved") == "approved" and pending_code("saved", "approved") == "saved"
    assert pending_code(None, None) is None and pending_code("Đã trả tiền", "x") is None
    assert message_for("approved", str.upper) == MESSAGES["approved"].upper()
    assert message_for("anything else", str.upper) is None
