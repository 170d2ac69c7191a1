"""The README's "Five minutes with the demo commune", step by step, over HTTP against a real `loa demo` (station
and nine agent processes) on a fresh data dir — as the README says it, with the passwords the demo printed.
Then every page each role can reach is crawled in Vietnamese and in English: no English UI words on a
Vietnamese page, no Vietnamese on an English one (the commune's own content — titles, texts, names — aside)."""
from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import httpx
import pytest

from tests import tools
from tests.hooks import loa_render_cache
from tests.ports import free_port as _free_port

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[3] / "README.md"
ROLES = ("bithu", "canbo", "pho-chu-tich", "truongthon", "quantri")
NOTICE = "7h30 sáng mai, UBND xã hướng dẫn cài VNeID tại nhà văn hóa thôn Ún Tà."


@pytest.fixture(scope="module")
def demo(tmp_path_factory, render_cache_dir):
    data = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {**os.environ, **loa_render_cache.env(render_cache_dir), "LOA_TTS_ONLINE": "0", "PYTHONUNBUFFERED": "1"}
    log_path = data / "demo.out"
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "station.cli.main", "demo", "--port", str(port), "--data-dir",
                             str(data), "--first-broadcast-in", "20"], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while "Ctrl+C" not in log_path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the demo did not start:\n" + log_path.read_text(errors="replace")[-3000:])
        time.sleep(0.5)
    passwords = dict(re.findall(r"│ (\S+)\s+│ \S+\s+│ (\S+)\s+│", log_path.read_text()))
    assert set(ROLES) <= set(passwords), passwords
    yield base, passwords, data
    proc.send_signal(signal.SIGTERM)  # `kill` stops the demo as Ctrl+C does: its agents with it
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    leftover = tools.processes_running(f"--data-dir {data}/agents")
    assert leftover == [], f"village agents outlived the demo: {leftover}"
    assert proc.returncode == 0, (proc.returncode, log_path.read_text(errors="replace")[-3000:])
    # the station's own shutdown ran and closed the database (SQLite removes its write-ahead log then)
    assert not (data / "loa.db-wal").exists(), "the station did not close its database"


def test_a_second_demo_on_a_taken_port_says_so(demo):
    base, _, data = demo
    port = base.rsplit(":", 1)[1]
    out = subprocess.run([sys.executable, "-m", "station.cli.main", "demo", "--port", port, "--data-dir", str(data),
                          "--no-agents"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "LOA_TTS_ONLINE": "0"})
    said = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 1 and f"port {port} is already in use" in said, said[-2000:]


def browser_like(base: str, lang: str | None = None) -> httpx.Client:
    cookies = {"loa_lang": lang} if lang else {}
    return httpx.Client(base_url=base, follow_redirects=True, timeout=60, cookies=cookies,
                        headers={"Accept": "text/html,application/xhtml+xml"})


def login(base: str, passwords: dict, user: str, lang: str | None = None) -> httpx.Client:
    c = browser_like(base, lang)
    r = c.post("/login", data={"username": user, "password": passwords[user], "next": "/app"},
               headers={"Origin": base})
    assert r.status_code == 200 and "/app" in str(r.url), (user, r.status_code)
    return c


def form_fields(form_html: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form_html):
        out.setdefault(name, []).append(html.unescape(value))
    return out


def flash(page: str) -> str:
    match = re.search(r'id="flash">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def test_the_readme_walkthrough_works_as_written(demo):
    base, passwords, data = demo
    readme = README.read_text()
    # The README's own words for what we do below (so a change there shows here).
    for words in ("log in as `bithu`", "**Soạn thông báo**", "**Duyệt**", "**Lịch phát**",
                  "every day at 06:00 and 17:00", "**PHÁT KHẨN CẤP**", "sink.jsonl", "/r"):
        assert words in readme, words

    # 1. bithu writes the notice; the spoken words show as typed; save, submit.
    b = login(base, passwords, "bithu")
    commune = re.search(r"/app/c/(\d+)", str(b.get("/app").url)).group(1)
    assert "Soạn thông báo" in b.get(f"/app/c/{commune}").text
    words = b.post(f"/app/c/{commune}/compose/words", json={"text": NOTICE},
                   headers={"X-CSRF-Token": b.cookies["loa_csrf"]}).json()
    spoken = " ".join(words["sentences"])
    for said in ("bảy giờ ba mươi phút", "ủy ban nhân dân xã", "vê nê ai đi"):
        assert said in spoken, spoken
    assert words["airtime"]["level"] == "ok" and "giây" in words["airtime"]["text"]
    r = b.post(f"/app/c/{commune}/compose", data={"csrf": b.cookies["loa_csrf"], "title": "Cài VNeID",
                                                   "text": NOTICE, "kind": "guidance", "engine": "auto",
                                                   "speed": "1.0", "action": "save"})
    item = int(re.search(r"/app/items/(\d+)$", str(r.url)).group(1))
    assert flash(r.text).startswith("✔ Đã lưu")
    deadline = time.monotonic() + 90
    while 'id="submit"' not in (page := b.get(f"/app/items/{item}").text):  # rendered by the station's worker
        assert time.monotonic() < deadline, "the audio was not made"
        time.sleep(1)
    assert "<audio" in page
    r = b.post(f"/app/items/{item}/submit", data={"csrf": b.cookies["loa_csrf"]})
    assert "Đã gửi duyệt" in flash(r.text)

    # 2. canbo approves what they heard.
    k = login(base, passwords, "canbo")
    assert f'id="review-{item}"' in k.get(f"/app/c/{commune}/review").text
    sha = re.search(r'name="reviewed_sha256" value="(\w+)"', k.get(f"/app/items/{item}").text).group(1)
    r = k.post(f"/app/items/{item}/approve", data={"csrf": k.cookies["loa_csrf"], "reviewed_sha256": sha})
    assert "Đã duyệt" in flash(r.text)

    # 3. Schedule "every day at 06:00 and 17:00", villages picked (none is ticked for the cadre); the overlap with
    # the guidance pack shows before saving, with ways forward, and "sáng mai" daily with no end is warned about.
    page = k.get(f"/app/c/{commune}/schedule").text
    assert not re.search(r'name="villages" value="\d+" checked', page)
    villages = re.findall(r'name="villages" value="(\d+)"', page)[:2]
    form = {"csrf": k.cookies["loa_csrf"], "item_id": str(item), "preset": "daily_6_17", "villages": villages,
            "priority": "normal", "repeat": "1", "with_pair": "1", "action": "check"}
    r = k.post(f"/app/c/{commune}/schedule", data=form)
    assert 'id="conflicts"' in r.text and "Không lưu được" in r.text
    assert "«sáng mai»" in r.text
    ways = dict(re.findall(r'class="way" id="way-(\w+)">(.*?)</form>', r.text, re.S))
    assert set(ways) == {"after", "priority", "time"}, ways.keys()
    # Saving as it is is refused (409) and keeps the form; a way forward saves.
    refused = k.post(f"/app/c/{commune}/schedule", data={**form, "action": "save"})
    assert refused.status_code == 409 and 'id="way-after"' in refused.text
    r = k.post(f"/app/c/{commune}/schedule", data={**form_fields(ways["after"]), "action": "save"})
    assert "Đã lưu lịch" in flash(r.text)
    schedules = k.get(f"/api/v1/communes/{commune}/schedules").json()
    mine = [s for s in schedules if s["programme"][0].get("content_id") == item
            or s["programme"][0].get("first") == item]
    # just after the pack (06:00-06:10, 17:00-17:10): 06:11 and 17:11, or later when the demo's own test play,
    # 20 s after it started, airs right there (a run started between 06:09 and 06:11, or 17:09 and 17:11)
    offered = form_fields(ways["after"])["times"][0].split(", ")
    assert len(mine) == 1 and mine[0]["times"] == offered, (mine, offered)
    assert "06:11" <= offered[0] <= "06:15" and "17:11" <= offered[1] <= "17:15", offered
    assert sorted(mine[0]["targets"]["villages"]) == sorted(int(v) for v in villages)
    week = k.get(f"/app/c/{commune}/schedule", params={"village": villages[0]}).text
    assert week.count("Cài VNeID") >= 12

    # 4. The emergency: the red button, choose villages, confirm — it airs; cancel.
    home = k.get(f"/app/c/{commune}").text
    assert "PHÁT KHẨN CẤP" in home
    page = k.get(f"/app/c/{commune}/emergency").text
    emergency_item = re.search(r'<option value="(\d+)"', page).group(1)
    choose = {"csrf": k.cookies["loa_csrf"], "item_id": emergency_item, "villages": villages[:1], "repeat": "1"}
    confirm = k.post(f"/app/c/{commune}/emergency", data={**choose, "step": "confirm"})
    assert 'id="emergency-air"' in confirm.text
    r = k.post(f"/app/c/{commune}/emergency", data={**choose, "step": "air"})
    emergency = re.search(r"/app/emergencies/(\d+)$", str(r.url)).group(1)
    assert 'id="emergency-cancel"' in r.text
    r = k.post(f"/app/emergencies/{emergency}/cancel", data={"csrf": k.cookies["loa_csrf"]})
    assert r.status_code == 200 and 'id="emergency-cancel"' not in r.text

    # 5. The agents: what each loudspeaker played, with the audio kept; the loudspeakers page shows them.
    sinks = [data / "agents" / f"device-{i}" / "sink.jsonl" for i in range(1, 10)]
    deadline = time.monotonic() + 150
    while not all(p.exists() and p.stat().st_size for p in sinks):
        assert time.monotonic() < deadline, [str(p) for p in sinks if not p.exists()]
        time.sleep(1)
    assert all(json.loads(p.read_text().splitlines()[0])["event"] == "start" for p in sinks)
    assert all(list((p.parent / "played").iterdir()) for p in sinks)
    assert "Cụm loa" in k.get(f"/app/c/{commune}/devices").text

    # 6. Residents, without a login: the announcements with transcripts, and an RSS feed per village.
    public = browser_like(base)
    assert public.get("/r").status_code == 200
    village_page = public.get(f"/r/{commune}/v/{villages[0]}")
    assert village_page.status_code == 200 and "Cài VNeID" in village_page.text
    feed = public.get(f"/r/{commune}/v/{villages[0]}/feed.xml")
    assert feed.status_code == 200 and "<rss" in feed.text and "Cài VNeID" in feed.text


# ---------------------------------------------------------------- one language per page

# English words a Vietnamese page must never show (as whole words, case-sensitive where a Vietnamese word is the
# same letters: "to", "no" and "ven" are Vietnamese too).
ENGLISH_UI = re.compile(r"\b(normal|airing|auto|REC|Save|Schedule|Approve|Reject|Library|Reports?|Emergency|"
                        r"Loudspeakers?|Village|Commune|Home|Write|Record|Listen|Submit|played|pending|draft|"
                        r"submitted|approved|rejected|archived|guidance|directive|news|online|offline|minutes?|"
                        r"seconds?|priority|fallback|filler|None|True|False|null|espeak|gtts|piper|the|and|"
                        r"with|from|for|yes|Stop|Cancel|Back|Log out|Something|Not found|error|Error|"
                        r"quiet_hours|not_airable|outranked|preempted|too_long|item_removed|play_failed)\b")
VIETNAMESE_LETTERS = re.compile("[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
                                "áàãéèíìóòõúùýĂÂĐÊÔƠƯ]")


def content_strings(data: Path) -> list[str]:
    """What the commune wrote (titles, texts and what the voice says, names of places, people, loudspeakers,
    schedules, languages): it is shown as written, in whatever language it is."""
    from sqlmodel import Session, select

    from api.web.pages_compose import spoken_sentences
    from loa.languages import KNOWN
    from content.library.models import ContentItem
    from loa.accounts.models import User
    from loa.db import make_engine
    from loa.org.models import Commune, Device, Province, Village
    from schedules.tables import ScheduleRule

    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    out: list[str] = []
    with Session(engine) as s:
        for item in s.exec(select(ContentItem)):
            out += [item.title, item.text or "", item.transcript or ""]
            if item.text:
                out += spoken_sentences(item.text, item.voice)
                out += [p.strip() for p in re.split(r"[.!?\n]", item.text)]
        out += [x.name for model in (Province, Commune, Village, Device) for x in s.exec(select(model))]
        out += [u.display_name or "" for u in s.exec(select(User))] + [u.username for u in s.exec(select(User))]
        out += [r.title for r in s.exec(select(ScheduleRule))]
    engine.dispose()
    out += [name for names in KNOWN.values() for name in names]
    return sorted({x for x in out if x and len(x) > 1}, key=len, reverse=True)


def visible_text(page: str) -> list[str]:
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    attrs = re.findall(r'(?:aria-label|placeholder|title|alt)="([^"]*)"', page)
    page = re.sub(r'(?s)<option value="[^"]*"[^>]*>[^<]*</option>', lambda m: m.group(0), page)
    text = re.sub(r"(?s)<[^>]+>", "\n", page)
    return [html.unescape(t).strip() for t in text.split("\n") + attrs if t.strip()]


def crawl(client: httpx.Client, start: list[str], limit: int = 80) -> dict[str, str]:
    """Every page reachable by links from `start` (GET only, this station only)."""
    pages: dict[str, str] = {}
    todo = deque(start)
    while todo and len(pages) < limit:
        url = todo.popleft()
        if url in pages:
            continue
        r = client.get(url)
        pages[url] = r.text if "text/html" in r.headers.get("content-type", "") else ""
        for href in re.findall(r'href="(/[^"#]*)"', pages[url]):
            href = html.unescape(href)
            if href.startswith(("/static", "/lang", "/logout", "/r/audio", "/docs", "/api")) \
                    or href.endswith((".xml", ".csv", ".ics", ".ogg")) or "start=" in href or "page=" in href:
                continue
            todo.append(href)
    return pages


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_one_language_per_page_for_every_role(demo, lang):
    base, passwords, data = demo
    content = content_strings(data)
    corpus = "\n".join(content)
    leaks: dict[str, set[str]] = {}
    for user in ROLES:
        client = login(base, passwords, user, lang)
        pages = crawl(client, ["/app", "/r", "/no-such-page"])
        # The pages a form leads to: a schedule's overlap check, the confirmation of a stop.
        commune = re.search(r"/app/c/(\d+)", pages["/app"] + str(client.get("/app").url))
        if user == "canbo" and commune:
            c = commune.group(1)
            page = client.get(f"/app/c/{c}/schedule").text
            item = re.search(r'<select id="item_id".*?<option value="(\d+)"', page, re.S).group(1)
            village = re.search(r'name="villages" value="(\d+)"', page).group(1)
            check = client.post(f"/app/c/{c}/schedule", data={"csrf": client.cookies["loa_csrf"], "item_id": item,
                                                              "preset": "daily_6_17", "villages": [village],
                                                              "action": "check"})
            pages["schedule check"] = check.text
            rule = re.search(r'action="/app/schedules/(\d+)/cancel"', page).group(1)
            pages["stop confirmation"] = client.post(f"/app/schedules/{rule}/cancel",
                                                     data={"csrf": client.cookies["loa_csrf"]}).text
            assert 'id="confirm-yes"' in pages["stop confirmation"]
        assert 'lang="%s"' % lang in pages["/no-such-page"] and "<h1>" in pages["/no-such-page"]
        for url, page in pages.items():
            if not page:
                continue
            assert len(page.encode()) < 100_000, f"{url} is {len(page.encode())} bytes"
            for line in visible_text(page):
                line = re.sub(r"«[^»]*»", " ", line)  # quoted: the commune's words
                for known in content:
                    if known in line:
                        line = line.replace(known, " ")
                # an excerpt of a text ("Bà con cần nhớ…"): a piece of the commune's words too
                line = " ".join(part for part in re.split(r"\.\.\.|…|(?<=[.!?])\s", line)
                                if part.strip(" .") and part.strip(" .") not in corpus)
                bad = ENGLISH_UI.findall(line) if lang == "vi" else VIETNAMESE_LETTERS.findall(line)
                if bad:
                    leaks.setdefault(f"{line.strip()[:120]!r} {bad}", set()).add(f"{user} {url}")
    assert not leaks, "\n".join(f"{k} @ {sorted(v)[:3]}" for k, v in sorted(leaks.items()))
