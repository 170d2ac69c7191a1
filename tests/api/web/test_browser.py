"""The whole job from a phone, in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real `loa serve` (uvicorn) on a free port of 127.0.0.1, with a temp data dir and SQLite:
log in, compose (live words preview, sample listen), save, submit, approve, schedule (conflict check, then
the week shows it), air and cancel an emergency, record with the microphone, and the residents' page plays
the audio. A screenshot of each page goes to tests/api/web/screenshots/ (390×844, a common phone)."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.tools import chromium
from tests.api.web.web_rig import PASSWORD
from tests.api.web.served import loa_serve, station_data

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required",
         # a fake microphone (a beeping tone) and no permission prompt, for MediaRecorder
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, world_template):
    """`loa serve` in its own process over a fresh data dir whose database already holds the world."""
    data, world = station_data(tmp_path_factory, world_template)
    with loa_serve(data) as base:
        yield base, world, data


@pytest.fixture(scope="module")
def browser():
    """A fresh browser context (its own cookies and storage) in this module's Chromium. Not a persistent
    profile on disk: nothing here reads one back, and writing it cost ~0.3 CPU-s a module."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium(), headless=True, args=FLAGS)
        context = chrome.new_context(
            locale="vi-VN", viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True,
            has_touch=True, permissions=["microphone"])
        yield context
        context.close()
        chrome.close()
    print(f"\nscreenshots: {SHOTS}")


A11Y = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button')) {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (el.tagName === 'BUTTON' && el.textContent.trim());
    if (!named) bad.push(el.outerHTML.slice(0, 80));
  }
  for (const a of document.querySelectorAll('audio')) {  // audio always has words next to it
    const box = a.closest('li, main');
    if (!(a.getAttribute('aria-describedby') || a.getAttribute('aria-label')) && !(box && box.querySelector('.text')))
      bad.push('audio without transcript: ' + a.outerHTML.slice(0, 80));
  }
  if (!document.querySelector('h1')) bad.push('no h1');
  if (document.documentElement.scrollWidth > window.innerWidth + 1) bad.push('wider than the phone screen');
  return bad;
}"""


def shot(page, name: str) -> None:
    """Save the screenshot, and check the page on the way: every control is named, audio has its words,
    one heading, nothing wider than the phone."""
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert page.evaluate(A11Y) == [], name


def login(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/app/c/" in url)


def test_the_whole_job_from_a_phone(server, browser):
    base, world, data = server
    page = browser.new_page()
    page.on("dialog", lambda d: d.accept())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Log in (Vietnamese by default).
    page.goto(f"{base}/login")
    assert page.locator("html").get_attribute("lang") == "vi"
    shot(page, "01-login")
    login(page, base, "secretary")
    shot(page, "02-home-secretary")

    # Compose: the words that will be spoken appear as one types; a sample can be heard.
    page.goto(f"{base}/app/c/{world.a}/compose")
    page.get_by_label("Tiêu đề").fill("Cài VNeID trước 30/4")
    page.get_by_label("Nội dung cần đọc").fill("Bà con cài VNeID trước ngày 30/4/2026. Hỏi công an xã lúc 7h30.")
    page.wait_for_selector("#words-list li")
    words = page.inner_text("#words-list")
    assert "vê nê ai đi" in words and "bảy giờ ba mươi phút" in words
    page.get_by_role("button", name="Nghe thử").click()
    page.wait_for_function("() => document.getElementById('listen-audio').src.startsWith('blob:')", timeout=30000)
    page.wait_for_function("() => document.getElementById('listen-audio').readyState >= 2", timeout=30000)
    shot(page, "03-compose")
    page.get_by_role("button", name="Lưu", exact=True).click()
    page.wait_for_url(lambda url: "/app/items/" in url)
    item_url = page.url
    item_id = int(item_url.rsplit("/", 1)[1])
    # The render runs in the server's worker; the page refreshes itself until the audio is there.
    page.wait_for_selector("#submit", timeout=60000)
    shot(page, "04-item-ready")
    page.click("#submit")
    page.wait_for_selector(".badge.st-submitted")

    # Approve as a cadre: listen and read in the queue.
    login(page, base, "cadre")
    shot(page, "05-home-cadre")
    page.goto(f"{base}/app/c/{world.a}/review")
    card = page.locator(f"#review-{item_id}")
    assert "VNeID" in card.inner_text()
    card.locator("audio").evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function(f"() => document.querySelector('#review-{item_id} audio').currentTime > 0", timeout=20000)
    shot(page, "06-review")
    card.get_by_role("button", name="✔ Duyệt").click()
    page.wait_for_url(f"{base}/app/c/{world.a}/review")
    assert page.locator(f"#review-{item_id}").count() == 0

    # Library: search finds it, approved.
    page.goto(f"{base}/app/c/{world.a}/library?q=vneid")
    assert page.locator(".item .badge.st-approved").count() == 1
    shot(page, "07-library")

    # Schedule: every day at 06:00 and 17:00 in Ún Tà; conflicts are checked before saving.
    page.goto(f"{base}/app/c/{world.a}/schedule?village={world.village_a}")
    page.select_option("#item_id", str(item_id))
    page.check("input[name=preset][value=daily_6_17]")
    page.locator("#schedule-form").get_by_label("Ún Tà").check()
    assert page.locator("#save-schedule").count() == 0
    page.click("#check")
    page.wait_for_selector("#conflicts")
    assert "Không trùng giờ" in page.inner_text("#conflicts")
    page.click("#save-schedule")
    page.wait_for_selector(".flash")
    week = page.inner_text("#week")
    assert "Cài VNeID trước 30/4" in week and ("06:00" in week or "17:00" in week)
    assert week.count("Cài VNeID trước 30/4") >= 12  # twice a day for (nearly) seven days
    shot(page, "08-schedule")

    # Emergency: a separate red button, a confirmation step, then which loudspeakers started; then cancel.
    page.goto(f"{base}/app/c/{world.a}")
    page.locator(".danger-zone a.emergency").click()
    page.select_option("#item_id", str(item_id))
    page.locator("#emergency-form").get_by_label("Ún Tà").check()
    shot(page, "09-emergency")
    page.click("#emergency-next")
    page.wait_for_selector("#emergency-air")
    shot(page, "10-emergency-confirm")
    page.click("#emergency-air")
    page.wait_for_selector("#emergency-state")
    assert "Đang phát" in page.inner_text("#emergency-state")
    # Neither box of Ún Tà is set up in this test: nothing can play it, and the page says so (a box that reports:
    # test_browser_truth.py).
    assert "0/0" in page.inner_text("#emergency-state") and "Cụm loa 1" in page.inner_text("#not-counted")
    shot(page, "11-emergency-on-air")
    emergencies = httpx.get(f"{base}/api/v1/communes/{world.a}/emergencies",
                            cookies={c["name"]: c["value"] for c in browser.cookies()}).json()
    assert emergencies[0]["status"] == "airing"
    page.click("#emergency-cancel")
    page.wait_for_function("() => document.getElementById('emergency-state').innerText.includes('Đã dừng')")
    shot(page, "12-emergency-cancelled")

    for name, path in (("13-devices", "devices"), ("14-reports", "reports")):
        page.goto(f"{base}/app/c/{world.a}/{path}")
        assert page.locator("h1").count() == 1
        shot(page, name)

    # English is one tap away, and remembered.
    page.get_by_role("link", name="English").click()
    page.wait_for_selector("html[lang=en]")
    assert "Reports" in page.inner_text("h1")
    page.goto(f"{base}/app/c/{world.a}")
    assert "Write an announcement" in page.inner_text("main")
    shot(page, "15-home-english")
    page.goto(f"{base}/lang/vi")

    # Residents, without an account: the approved announcement with its words, and the audio plays.
    page.context.clear_cookies()
    page.goto(f"{base}/r/{world.a}/v/{world.village_a}")
    entry = page.locator(f"#item-{item_id}")
    assert "VNeID" in entry.inner_text()
    entry.locator("audio").evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function(f"() => document.querySelector('#item-{item_id} audio').readyState >= 2", timeout=20000)
    page.wait_for_function(f"() => document.querySelector('#item-{item_id} audio').currentTime > 0", timeout=20000)
    shot(page, "16-residents")
    assert not errors, errors


def test_record_with_the_microphone(server, browser):
    """MediaRecorder on Chromium's fake microphone: record, listen back, upload through the form."""
    base, world, data = server
    page = browser.new_page()
    login(page, base, "secretary")
    page.goto(f"{base}/app/c/{world.a}/record")
    page.click("#rec-start")
    page.wait_for_selector("#rec-stop:not([hidden])")
    page.wait_for_timeout(2500)
    page.click("#rec-stop")
    page.wait_for_function("() => document.getElementById('file').files.length === 1", timeout=10000)
    page.wait_for_function("() => document.getElementById('rec-audio').src.startsWith('blob:')")
    page.get_by_label("Tiêu đề").fill("Ghi âm thử")
    page.get_by_label("Lời của bản ghi âm").fill("Tiếng bíp thử micrô")
    page.select_option("#language", "pcc")
    shot(page, "17-record")
    page.get_by_role("button", name="Tải lên").click()
    page.wait_for_url(lambda url: "/app/items/" in url, timeout=30000)
    assert page.locator("audio").count() == 1 and "Tiếng bíp thử micrô" in page.inner_text("main")
    shot(page, "18-recorded-item")
