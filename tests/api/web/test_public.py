"""Residents' pages without login: only approved, unexpired items with audio; per village; language filter;
public audio with Range; and an RSS 2.0 podcast feed that feedparser reads, with valid enclosures."""
from __future__ import annotations

from datetime import timedelta

import feedparser

from tests.api.web.web_rig import make_item


def _world_items(app, world, facts, clock):
    now = clock()
    return dict(
        commune_wide=make_item(app, world, facts, now, title="Lịch tiêm phòng toàn xã", status="approved"),
        village=make_item(app, world, facts, now, title="Họp thôn Ún Tà", status="approved",
                          village_id=world.village_a),
        giay=make_item(app, world, facts, now, title="Họp thôn (tiếng Giáy)", status="approved", language="pcc",
                       village_id=world.village_a, transcript="Lời tiếng Giáy của cuộc họp"),
        other_village=make_item(app, world, facts, now, title="Sửa đường thôn 2", status="approved",
                                village_id=world.village_a2),
        draft=make_item(app, world, facts, now, title="Bản nháp bí mật", status="draft"),
        submitted=make_item(app, world, facts, now, title="Đang chờ duyệt", status="submitted"),
        expired=make_item(app, world, facts, now, title="Tin đã hết hạn", status="approved",
                          expires_at=now + timedelta(hours=1)),
        outsider=make_item(app, world, facts, now, author="outsider", title="Tin xã khác", status="approved"),
    )


def test_village_page_shows_only_public_items(client, app, world, facts, clock):
    _world_items(app, world, facts, clock)
    clock.now += timedelta(hours=2)  # the expiring item has expired
    r = client.get(f"/r/{world.a}/v/{world.village_a}")
    assert r.status_code == 200
    for shown in ("Lịch tiêm phòng toàn xã", "Họp thôn Ún Tà", "Họp thôn (tiếng Giáy)"):
        assert shown in r.text
    for hidden in ("Sửa đường thôn 2", "Bản nháp bí mật", "Đang chờ duyệt", "Tin đã hết hạn", "Tin xã khác"):
        assert hidden not in r.text
    # Audio always comes with its words.
    assert r.text.count("<audio") == 3 and "Lời tiếng Giáy của cuộc họp" in r.text
    assert f'src="/r/audio/{facts.sha256}.ogg"' in r.text  # the hash names the bytes: cached for good
    only_giay = client.get(f"/r/{world.a}/v/{world.village_a}", params={"language": "pcc"})
    assert "Họp thôn (tiếng Giáy)" in only_giay.text and "Lịch tiêm phòng" not in only_giay.text
    assert client.get(f"/r/{world.a}").status_code == 200
    assert client.get(f"/r/{world.a}/v/{world.village_b}").status_code == 404  # a village of another commune
    assert client.get("/r/999").status_code == 404


def test_public_audio_only_for_public_items(client, app, world, facts, clock):
    items = _world_items(app, world, facts, clock)
    r = client.get(f"/r/audio/{items['village']}.ogg")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"
    assert len(r.content) == facts.size_bytes and r.content[:4] == b"OggS"
    part = client.get(f"/r/audio/{items['village']}.ogg", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    for key in ("draft", "submitted"):
        assert client.get(f"/r/audio/{items[key]}.ogg").status_code == 404
    assert client.get("/r/audio/99999999999999.ogg").status_code == 404
    assert client.get(f"/r/audio/{items['village']}.mp3").status_code == 404


def test_rss_feed_parses_with_valid_enclosures(client, app, world, facts, clock):
    _world_items(app, world, facts, clock)
    r = client.get(f"/r/{world.a}/v/{world.village_a}/feed.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "rss20"
    assert "Ún Tà" in feed.feed.title and feed.feed.link == f"http://testserver/r/{world.a}/v/{world.village_a}"
    titles = [e.title for e in feed.entries]
    assert len(feed.entries) == 4  # commune-wide, the village's two, and the soon-expiring one (not yet expired)
    assert not any("Sửa đường" in t or "nháp" in t or "xã khác" in t for t in titles)
    for entry in feed.entries:
        assert entry.summary  # the transcript
        (enc,) = entry.enclosures
        assert enc.href.startswith("http://testserver/r/audio/") and enc.type == "audio/ogg"
        assert int(enc.length) == facts.size_bytes > 0
        audio = client.get(enc.href.removeprefix("http://testserver"))
        assert audio.status_code == 200 and len(audio.content) == int(enc.length)
        assert entry.published_parsed is not None and entry.id
    giay = next(e for e in feed.entries if "Giáy" in e.title)
    assert giay.summary == "Lời tiếng Giáy của cuộc họp"
    assert client.get(f"/r/{world.a}/v/{world.village_b}/feed.xml").status_code == 404


def test_public_pages_need_no_login_and_leak_no_staff_data(client, app, world, facts, clock):
    _world_items(app, world, facts, clock)
    home = client.get("/")
    assert home.status_code == 200 and "Cốc San" in home.text and "Tả Phời" in home.text
    page = client.get(f"/r/{world.a}")
    assert "secretary" not in page.text and "csrf" not in page.text
