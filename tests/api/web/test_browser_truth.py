"""The emergency status page in real headless Chromium, against a real `loa serve`, with a loudspeaker box set
up through the Loudspeakers page and reporting through the device endpoints with its own token (issue 12):
after STOP the page refreshes itself, says "Đang dừng…", names the box once it has been silent for 10 s, and
says "Đã dừng trên 1/1 cụm loa" only when the box reports it stopped."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import httpx
import pytest

from broadcaster.protocol.wire import format_time
from tests.api.web.web_rig import PASSWORD
from tests.api.web.test_browser import browser, login, server, shot  # noqa: F401  (fixtures: their own for this module)

pytestmark = pytest.mark.browser
DEV = "/api/device/v1"


def _beat(base: str, token: str, playing: dict | None) -> None:
    r = httpx.post(f"{base}{DEV}/heartbeat", headers={"Authorization": f"Bearer {token}"},
                   json={"sent_at": format_time(datetime.now(timezone.utc)), "manifest_version": None,
                         "playing": playing})
    assert r.status_code == 204, r.text


def _token(base: str, username: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _approved_recording(base: str, world) -> int:
    from tests.station_rig import speech_wav

    secretary, cadre = _token(base, "secretary"), _token(base, "cadre")
    r = httpx.post(f"{base}/api/v1/communes/{world.a}/recordings", headers=secretary, timeout=60,
                   files={"file": ("lu.wav", speech_wav("Lũ quét, bà con sơ tán ngay lên đồi"), "audio/wav")},
                   data={"title": "Lũ quét: sơ tán ngay", "kind": "emergency"})
    assert r.status_code == 201, r.text
    item_id = r.json()["id"]
    assert httpx.post(f"{base}/api/v1/content/{item_id}/submit", headers=secretary).status_code == 200
    heard = r.json()["audio"]["sha256"]  # the cadre approves what was heard (issue 13)
    assert httpx.post(f"{base}/api/v1/content/{item_id}/approve", headers=cadre,
                      json={"reviewed_sha256": heard}).status_code == 200
    return item_id


def test_emergency_status_waits_for_the_box_to_confirm_the_stop(server, browser):  # noqa: F811
    base, world, data = server
    page = browser.new_page()
    page.on("dialog", lambda d: d.accept())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, base, "cadre")

    # Set up one box of Ún Tà: a code from the Loudspeakers page, claimed by the box.
    page.goto(f"{base}/app/c/{world.a}/devices")
    box_item = page.locator(".item", has_text="Cụm loa 1")
    box_item.locator("summary").click()
    box_item.get_by_role("button", name="Tạo mã cài đặt cho hộp loa này").click()
    page.wait_for_selector("#new-code")
    code = re.search(r"\d{6}", page.inner_text("#new-code")).group(0)
    creds = httpx.post(f"{base}{DEV}/enroll/claim", json={"code": code, "agent_version": "0.1.0",
                                                         "hardware": "test", "hostname": "box-1"}).json()
    token = creds["token"]

    # An approved emergency message (a secretary's recording, approved by a cadre, through the API).
    item_id = _approved_recording(base, world)
    page.goto(f"{base}/app/c/{world.a}/emergency")
    page.select_option("#item_id", str(item_id))
    page.locator("#emergency-form").get_by_label("Ún Tà").check()
    page.select_option("#repeat", "10")  # "until stopped" of a 3 s message is thousands of plays: slow here
    page.click("#emergency-next")
    page.click("#emergency-air")
    page.wait_for_selector("#emergency-state")
    assert "0/1" in page.inner_text("#emergency-state")

    # The box finds the emergency in its signed manifest and says it plays it.
    manifest = httpx.get(f"{base}{DEV}/manifest", headers={"Authorization": f"Bearer {token}"},
                         timeout=60).json()["manifest"]
    entry = next(e for e in manifest["entries"] if e["priority"] == "emergency")
    _beat(base, token, {"play_id": entry["play_id"], "sha256": entry["sha256"], "title": entry["title"],
                        "priority": "emergency", "started_at": format_time(datetime.now(timezone.utc))})
    page.reload()
    assert "1/1 cụm loa báo đang phát" in page.inner_text("#emergency-state")
    shot(page, "21-emergency-box-playing")

    # STOP. The box says nothing: "Đang dừng…", then after 10 s it is named (the page refreshes itself).
    page.click("#emergency-cancel")
    page.wait_for_selector("#emergency-state")
    assert "Đang dừng… 0/1 cụm loa đã xác nhận" in page.inner_text("#emergency-state")
    shot(page, "22-emergency-stopping")
    page.wait_for_selector("#unconfirmed", timeout=30000)
    assert "Chưa xác nhận sau 10 giây: Cụm loa 1" in page.inner_text("#unconfirmed")
    shot(page, "23-emergency-unconfirmed")

    # The box reports it is silent: the next refresh says it stopped on 1/1.
    _beat(base, token, None)
    page.wait_for_function("() => document.getElementById('emergency-state').innerText.includes('Đã dừng trên 1/1')",
                           timeout=30000)
    assert page.locator("#unconfirmed").count() == 0
    shot(page, "24-emergency-stopped")
    assert not errors, errors
