"""Accounts from a phone (issue 14), in real headless Chromium at 390×844 against a real `loa serve`: two
phones side by side (two browser contexts, two cookie jars). The admin disables a user whose session is open
(logged out at once); the admin resets a password (the user logs in with the one-time password and must change
it first); a user changes their own password and ends a session of theirs on the other phone."""
from __future__ import annotations

import re

import pytest

from tests.tools import chromium
from tests.api.web.web_rig import PASSWORD
from tests.api.web.test_browser import FLAGS, SHOTS, server, shot  # noqa: F401  (the module-scoped `loa serve`)

pytestmark = pytest.mark.browser
NEW = "song-nam-rong-lam"


@pytest.fixture(scope="module")
def phones():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=FLAGS)

        def phone():
            context = browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844},
                                          device_scale_factor=1, is_mobile=True, has_touch=True)
            page = context.new_page()
            page.on("dialog", lambda d: d.accept())
            return page

        yield phone
        browser.close()


def log_in(page, base, username, password=PASSWORD):
    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/login" not in url)


def open_user(admin, base, display):
    admin.goto(f"{base}/app")
    admin.get_by_role("link", name="Quản trị").click()
    admin.wait_for_url(lambda url: url.endswith("/app/admin"))
    admin.get_by_role("link", name=re.compile("Tài khoản và vai trò")).click()
    admin.wait_for_url(lambda url: url.endswith("/app/admin/users"))
    admin.get_by_role("link", name=re.compile(re.escape(display))).click()
    admin.wait_for_url(lambda url: re.search(r"/app/admin/users/\d+$", url) is not None)


def test_admin_disables_a_user_whose_session_is_open(server, phones):  # noqa: F811
    base, world, _ = server
    victim, admin = phones(), phones()
    log_in(victim, base, "cadre2")
    assert f"/app/c/{world.a}" in victim.url
    log_in(admin, base, "admin")
    shot(admin, "acc-01-admin-communes")
    open_user(admin, base, "(cadre2)")
    shot(admin, "acc-02-admin-user")
    admin.get_by_role("link", name="Khoá tài khoản").click()
    assert "kết thúc ngay" in admin.inner_text("main")
    shot(admin, "acc-03-confirm-disable")
    admin.get_by_role("button", name="Có, khoá tài khoản").click()
    admin.wait_for_url(lambda url: "/app/admin/users" in url)
    assert "Đã khoá tài khoản" in admin.inner_text(".flash")
    shot(admin, "acc-04-users")
    # the victim's very next tap: back to the login page, and their password no longer opens the station
    victim.get_by_role("link", name="Kho tin", exact=True).click()
    victim.wait_for_url(lambda url: "/login" in url)
    victim.get_by_label("Tên đăng nhập").fill("cadre2")
    victim.get_by_label("Mật khẩu").fill(PASSWORD)
    victim.get_by_role("button", name="Đăng nhập").click()
    assert "đã bị khoá" in victim.inner_text(".error")
    shot(victim, "acc-05-disabled-login")
    # enabled again, the same password works
    open_user(admin, base, "(cadre2)")
    admin.get_by_role("button", name="Mở khoá tài khoản").click()
    admin.wait_for_selector(".flash")
    log_in(victim, base, "cadre2")
    assert f"/app/c/{world.a}" in victim.url


def test_reset_password_forces_a_change_at_next_login(server, phones):  # noqa: F811
    base, world, _ = server
    user, admin = phones(), phones()
    log_in(admin, base, "admin")
    open_user(admin, base, "(village-head)")
    admin.get_by_role("link", name="Đặt lại mật khẩu").click()
    admin.get_by_role("button", name="Có, đặt lại mật khẩu").click()
    one_time = admin.inner_text("#one-time-password").strip()
    assert len(one_time) >= 10
    shot(admin, "acc-06-one-time-password")
    log_in(user, base, "village-head", one_time)
    assert user.url.endswith("/app/account")
    assert "mật khẩu một lần" in user.inner_text("#must-change")
    shot(user, "acc-07-must-change")
    user.goto(f"{base}/app/c/{world.a}/library")  # any other page: back to the password form
    assert user.url.endswith("/app/account")
    user.get_by_label("Mật khẩu hiện tại").fill(one_time)
    user.get_by_label("Mật khẩu mới", exact=True).fill(NEW)
    user.get_by_label("Nhập lại mật khẩu mới").fill(NEW)
    user.get_by_role("button", name="Đổi mật khẩu").click()
    user.wait_for_selector(".flash")
    assert "Đã đổi mật khẩu" in user.inner_text(".flash")
    user.goto(f"{base}/app/c/{world.a}/library")
    assert user.url.endswith("/library") and user.locator("h1").count() == 1
    user.context.clear_cookies()
    log_in(user, base, "village-head", NEW)
    assert "/app/c/" in user.url


def test_user_changes_own_password_and_ends_a_session(server, phones):  # noqa: F811
    base, world, _ = server
    phone_a, phone_b = phones(), phones()
    log_in(phone_a, base, "secretary")
    log_in(phone_b, base, "secretary")
    phone_b.get_by_role("link", name="Tài khoản của tôi").click()
    phone_b.wait_for_url(lambda url: url.endswith("/app/account"))
    assert phone_b.locator("#credentials li").count() == 2
    shot(phone_b, "acc-08-account")
    phone_b.get_by_label("Mật khẩu hiện tại").fill(PASSWORD)
    phone_b.get_by_label("Mật khẩu mới", exact=True).fill(NEW)
    phone_b.get_by_label("Nhập lại mật khẩu mới").fill(NEW)
    phone_b.get_by_role("button", name="Đổi mật khẩu").click()
    phone_b.wait_for_selector(".flash")
    assert phone_b.locator("#credentials li").count() == 1  # the other phone's session ended with the change
    phone_a.reload()
    phone_a.wait_for_url(lambda url: "/login" in url)
    # the other phone logs in with the new password; from this phone, its session is ended by hand
    log_in(phone_a, base, "secretary", NEW)
    phone_b.reload()
    assert phone_b.locator("#credentials li").count() == 2
    phone_b.get_by_role("button", name="Kết thúc phiên này").click()
    phone_b.wait_for_selector(".flash")
    assert "Phiên đó đã kết thúc" in phone_b.inner_text(".flash")
    assert phone_b.locator("#credentials li").count() == 1
    shot(phone_b, "acc-09-session-ended")
    phone_a.get_by_role("link", name="Kho tin", exact=True).click()
    phone_a.wait_for_url(lambda url: "/login" in url)
