"""RSS feed links come from LOA_PUBLIC_URL, never from the Host header (issue 13, Low): a feed is cached and
copied into podcast apps, so a forged Host must not send residents to another site."""
from __future__ import annotations

import feedparser

from tests.api.web.web_rig import make_item

FORGED = "evil.example"


def _feed(client, world, **headers):
    r = client.get(f"/r/{world.a}/v/{world.village_a}/feed.xml", headers=headers)
    assert r.status_code == 200, r.text
    return r.text, feedparser.parse(r.content)


def test_a_forged_host_never_appears_in_the_feed(client, app, world, facts, clock):
    make_item(app, world, facts, clock(), title="Họp thôn", status="approved", village_id=world.village_a)
    text, feed = _feed(client, world, Host=FORGED)
    assert FORGED not in text
    # unset: the address the connection reached (the test client's server), not what the client claims
    assert feed.feed.link == f"http://testserver/r/{world.a}/v/{world.village_a}"
    app.state.settings.public_url = "https://loa.cocsan.example"
    text, feed = _feed(client, world, Host=FORGED, **{"X-Forwarded-Host": FORGED})
    assert FORGED not in text
    assert feed.feed.link == f"https://loa.cocsan.example/r/{world.a}/v/{world.village_a}"
    assert feed.entries and all(e.enclosures[0].href.startswith("https://loa.cocsan.example/r/audio/")
                                for e in feed.entries)


def test_the_setting_is_checked(tmp_path):
    import pytest

    from loa.settings import Settings

    assert Settings(data_dir=tmp_path, public_url="https://loa.example.vn/").public_url == "https://loa.example.vn"
    assert Settings(data_dir=tmp_path, public_url="").public_url is None
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, public_url="loa.example.vn")
