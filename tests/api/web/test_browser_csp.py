"""The Content-Security-Policy in real Chromium (issue 13, Low): every page loads and works with it, and the
browser reports no violation — the language menu (an inline handler before) still submits itself, the error
page's "Go back" still goes back, the compose preview still fetches."""
from __future__ import annotations

import pytest

from tests.api.web.test_browser import browser, login, server  # noqa: F401  (module fixtures: a real `loa serve`)

pytestmark = pytest.mark.browser

WATCH = """() => { window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"""


def test_pages_work_under_the_policy_with_no_violation(server, browser):  # noqa: F811
    base, world, _ = server
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))
    login(page, base, "secretary")
    response = page.goto(f"{base}/app/c/{world.a}/compose")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    page.get_by_label("Nội dung").fill("7h30 sáng mai họp thôn")
    page.wait_for_selector("#words-list li")  # the live preview: a fetch from app.js, allowed
    for path in ("", "/library", "/schedule", "/record", "/devices", "/reports"):
        page.goto(f"{base}/app/c/{world.a}{path}")
        assert page.evaluate("window.__csp") == [], path
    # The residents' page: the language menu submits itself (was onchange="…", now app.js)
    page.goto(f"{base}/r/{world.a}")
    options = page.locator("#language option")
    if options.count() > 1:
        value = options.nth(1).get_attribute("value")
        page.select_option("#language", value)
        page.wait_for_url(lambda url: f"language={value}" in url)
    assert page.evaluate("window.__csp") == []
    # An error page's "Go back" (was href="javascript:…") goes back
    page.goto(f"{base}/app/c/{world.a}")
    page.goto(f"{base}/app/c/999999/library")
    page.get_by_role("link", name="Quay lại").click()
    page.wait_for_url(lambda url: url.rstrip("/").endswith(f"/app/c/{world.a}"))
    assert violations == [] and page.evaluate("window.__csp") == []
