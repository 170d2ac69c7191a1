"""The station admin sets up the level above the communes from a phone, in real headless Chromium against a real
`loa serve` at 390×844 (issue 16): from the admin hub to the province, a district created (a taken code refused
first, with what was typed kept), a commune placed in it, a role given to a cadre and taken back after the
confirmation page; then this station's identity read and another station registered (a bad key refused)."""
from __future__ import annotations

import pytest

from tests.api.web.served import login
from tests.api.web.test_browser import browser, server, shot  # noqa: F401  (fixtures: their own for this module)

pytestmark = pytest.mark.browser


def test_admin_creates_a_district_and_gives_a_role_from_a_phone(server, browser):  # noqa: F811
    from broadcaster.signing import generate_key

    base, world, data = server
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, base, "admin")

    page.goto(f"{base}/app/admin")
    page.get_by_role("link", name="Tỉnh, huyện và cán bộ").click()
    page.get_by_role("link", name="Lào Cai").click()
    assert "Chưa có huyện nào." in page.locator("#districts").inner_text()
    shot(page, "areas-01-province")

    page.get_by_label("Tên huyện").fill("Bát Xát")
    page.get_by_label("Mã (không bắt buộc)").fill("BX")
    page.get_by_role("button", name="Tạo huyện").click()
    page.wait_for_url(lambda url: "done=district_created" in url)
    assert "Đã tạo huyện" in page.locator("#flash").inner_text()
    assert page.locator("h1").inner_text() == "Huyện Bát Xát"
    shot(page, "areas-02-district-created")

    # A second district with the same code: refused in words, what was typed kept, nothing made.
    page.get_by_role("link", name="Lào Cai").click()
    page.get_by_label("Tên huyện").fill("Mường Khương")
    page.get_by_label("Mã (không bắt buộc)").fill("BX")
    page.get_by_role("button", name="Tạo huyện").click()
    assert "Mã huyện đã tồn tại" in page.locator("#form-error").inner_text()
    assert page.get_by_label("Tên huyện").input_value() == "Mường Khương"
    assert page.locator("#districts > li.item").count() == 1
    shot(page, "areas-03-district-code-taken")

    # Cốc San goes into the district, from the district's page.
    page.get_by_role("link", name="Bát Xát").click()
    page.get_by_label("Xã trong tỉnh").select_option(label="Cốc San (chưa thuộc huyện)")
    page.get_by_role("button", name="Đưa vào huyện này").click()
    page.wait_for_url(lambda url: "done=commune_placed" in url)
    assert "Cốc San" in page.locator("#district-communes").inner_text()

    # A cadre becomes the district's approver of bulletins.
    page.get_by_label("Tài khoản của người đó").select_option(label="cadre2")
    page.get_by_label("Vai trò", exact=True).select_option(label="Người duyệt bản tin")
    page.get_by_role("button", name="Giao vai trò").click()
    page.wait_for_url(lambda url: "done=staff_granted" in url)
    staff = page.locator("#staff-list").inner_text()
    assert "cadre2" in staff and "Người duyệt bản tin" in staff
    shot(page, "areas-04-role-given")

    # Taking it back asks first, on a page of its own.
    page.get_by_role("link", name="Bỏ vai trò…").click()
    assert page.locator("#confirm").is_visible() and "Bát Xát" in page.locator(".danger-zone").inner_text()
    shot(page, "areas-05-remove-confirm")
    page.locator("#confirm").click()
    page.wait_for_url(lambda url: "done=staff_removed" in url)
    assert "Chưa ai được giao vai trò ở đây." in page.locator("#staff-list").inner_text()

    # Another station: this one's identity to read out, then a peer pinned (a bad key first refused).
    page.goto(f"{base}/app/admin")
    page.get_by_role("link", name="Kết nối với các đài khác").click()
    own_key = page.get_by_label("Khóa công khai (sao chép toàn bộ)").input_value()
    assert len(own_key) == 44 and page.locator("#me-station").input_value()
    shot(page, "areas-06-identity")
    page.locator("summary", has_text="Đăng ký một đài khác").click()
    page.get_by_label("Mã của đài đó").fill("xa-coc-san")
    page.get_by_label("Tên hiển thị").fill("Đài xã Cốc San")
    page.get_by_label("Đài đó là").select_option("lower")
    page.get_by_label("Địa chỉ của đài").fill("https://loa.cocsan.vn")
    page.get_by_label("Khóa công khai của đài").fill("khoa-sai")
    page.get_by_label("Với đài cấp dưới: mã các xã đài đó phụ trách").fill("CS")
    page.get_by_role("button", name="Đăng ký đài").click()
    assert "Khóa công khai phải là 32 byte Ed25519 dạng base64" in page.locator("#form-error").inner_text()
    assert page.locator("#p-station").input_value() == "xa-coc-san"
    shot(page, "areas-07-peer-bad-key")
    key = generate_key().public_info()
    page.get_by_label("Khóa công khai của đài").fill(key["public_key"])
    page.get_by_role("button", name="Đăng ký đài").click()
    page.wait_for_url(lambda url: "done=peer_added" in url)
    assert key["key_id"] in page.locator("#peer-keys").inner_text()
    shot(page, "areas-08-peer-added")
    assert not errors, errors
    page.close()
