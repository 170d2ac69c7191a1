"""A cadre's phone in real headless Chromium (Debian's, driven by Playwright): the fake microphone plays a WAV
file (`--use-file-for-fake-audio-capture`), the live page is opened logged in, and "Phát trực tiếp" is tapped.
Used by tests/api/web/test_browser_live.py and bench/live.py."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
         "--use-fake-ui-for-media-stream"]


@contextmanager
def phone(chromium: str, profile: Path, mic_wav: Path) -> Iterator[object]:
    """A Playwright browser context (390×844, vi-VN) whose microphone is `mic_wav`, looped."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True,
            args=[*FLAGS, f"--use-file-for-fake-audio-capture={mic_wav}"], locale="vi-VN",
            viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True,
            permissions=["microphone"])
        try:
            yield context
        finally:
            context.close()


def log_in(page, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/login" not in url)


def go_live(page, base: str, commune_id: int, village_names: list[str] | None) -> None:
    """Open the live page, choose the villages (None: the whole commune) and tap "Phát trực tiếp"."""
    page.goto(f"{base}/app/c/{commune_id}/live")
    if village_names:
        for name in village_names:
            page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Phát trực tiếp").click()
    page.wait_for_selector("#live-onair:not([hidden])", timeout=15000)
