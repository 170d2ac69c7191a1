"""The commune overview page (issue 14): every village, month by month, from real play records; server-drawn
SVG bar charts with titles (no script, no inline style), filters by village and kind, and a CSV whose headers
follow the page language. Another commune's overview is 404."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

from tests.api.web.web_rig import TZ, login, make_item


def add_records(app, world, sha: str) -> None:
    """February and March 2026 in commune A: guidance in both villages, a relay, a failed play, an emergency."""
    from sqlmodel import select

    from broadcaster.station.models import PlayRecordRow
    from loa.db import session_scope
    from loa.org.models import Device

    with session_scope(app.state.engine) as s:
        devices = {d.village_id: d.id for d in s.exec(select(Device).order_by(Device.id))}
        rows = []

        def rec(seq, village, sha256, at, seconds, result="played", priority="normal"):
            end = at + timedelta(seconds=seconds) if seconds else None
            rows.append(PlayRecordRow(uid=f"u{devices[village]}", seq=seq, device_id=devices[village],
                                      commune_id=world.a, village_id=village, play_id=f"p{seq}", sha256=sha256,
                                      title="x", priority=priority, planned_start=at,
                                      actual_start=at if seconds else None, actual_end=end, result=result,
                                      received_at=at + timedelta(hours=1)))

        rec(1, world.village_a, sha, datetime(2026, 2, 3, 6, 0, tzinfo=TZ), 180)
        rec(2, world.village_a, None, datetime(2026, 2, 4, 19, 0, tzinfo=TZ), 600)
        rec(3, world.village_a, sha, datetime(2026, 3, 1, 6, 0, tzinfo=TZ), 90, "played", "emergency")
        rec(4, world.village_a, sha, datetime(2026, 3, 1, 17, 0, tzinfo=TZ), 30, "interrupted")
        rec(1, world.village_a2, sha, datetime(2026, 3, 1, 6, 0, tzinfo=TZ), 120)
        rec(2, world.village_a2, sha, datetime(2026, 3, 1, 17, 0, tzinfo=TZ), None, "failed")
        s.add_all(rows)


def test_overview_page_filters_and_csv(client, app, world, facts, clock):
    make_item(app, world, facts, clock(), status="approved", kind="guidance")
    add_records(app, world, facts.sha256)
    login(client, "secretary")
    url = f"/app/c/{world.a}/reports/overview"
    page = client.get(url, params={"from": "2026-02", "to": "2026-03"})
    assert page.status_code == 200 and len(page.content) < 100_000
    html = page.text
    # charts: server-drawn SVG, named, each bar with its own title; colours as attributes, never inline styles
    assert html.count('<svg class="chart-svg"') == 2 and 'role="img"' in html
    assert "<title id=\"chart-month-t\">Số phút đã phát mỗi tháng, theo loại</title>" in html
    assert "<title>Ún Tà · Tiếp sóng: 10.0 phút</title>" in html
    assert "<title>Ún Tà · Khẩn cấp: 1.5 phút</title>" in html
    assert "style=" not in html.split("<main", 1)[1] and "<script>" not in html
    total = re.sub(r"\s+", " ", html.split('id="overview-total">', 1)[1].split("</p>", 1)[0])
    # 3 + 10 + 1.5 + 0.5 + 2 minutes; four plays to the end, one cut short (0.5 min), one failed
    assert "17.0 phút" in total and "4 phát xong" in total and "1 bị cắt ngang (0.5 phút)" in total and "1 lỗi" in total
    # filter: one village, one kind
    page = client.get(url, params={"from": "2026-02", "to": "2026-03", "village": world.village_a2,
                                   "kind": "guidance"})
    total = re.sub(r"\s+", " ", page.text.split('id="overview-total">', 1)[1].split("</p>", 1)[0])
    assert "2.0 phút" in total and "Cốc San 2" in total and "1 lỗi" in total
    assert "Ún Tà ·" not in page.text  # no bar of the other village
    # "all villages" and "all kinds" are the empty choice of the form
    assert client.get(url, params={"village": "", "kind": "", "from": "2026-02", "to": "2026-03"}).status_code == 200
    r = client.get(f"{url}.csv", params={"from": "2026-02", "to": "2026-03", "kind": "emergency"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="loa-overview-' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == ["Thôn", "Tháng", "Loại tin", "Số phút đã phát", "Trong đó bị ngắt (phút)", "Lượt phát trọn vẹn",
                       "Lượt bị ngắt", "Lượt lỗi", "Lượt bị bỏ qua", "Lượt khẩn cấp phát sau lệnh dừng"]
    assert rows[1:] == [["Ún Tà", "2026-03", "Khẩn cấp", "1.5", "0.0", "1", "0", "0", "0", "0"]]
    client.get("/lang/en", params={"next": "/app"})
    r = client.get(f"{url}.csv", params={"from": "2026-02", "to": "2026-03", "village": world.village_a})
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["Village", "Month", "Kind", "Minutes aired"]
    assert ["Ún Tà", "2026-02", "Relay", "10.0", "0.0", "1", "0", "0", "0", "0"] in rows
    assert ["Ún Tà", "2026-03", "Guidance", "0.5", "0.5", "0", "1", "0", "0", "0"] in rows
    page = client.get(url, params={"from": "2026-02", "to": "2026-03"})
    assert "Minutes aired per village, by kind" in page.text and "Số phút" not in page.text
    # bad filters: a clear page, not a crash
    assert client.get(url, params={"from": "2026-3"}).status_code == 422
    assert client.get(url, params={"village": "abc"}).status_code == 404


def test_overview_is_the_communes_own(client, app, world, facts, clock):
    make_item(app, world, facts, clock(), status="approved")
    add_records(app, world, facts.sha256)
    login(client, "outsider")
    url = f"/app/c/{world.a}/reports/overview"
    assert client.get(url).status_code == 404
    assert client.get(f"{url}.csv").status_code == 404
    # nor may they ask their own commune's page about a village of commune A
    assert client.get(f"/app/c/{world.b}/reports/overview", params={"village": world.village_a}).status_code == 404
    client.cookies.clear()
    login(client, "village_head")   # their village only
    page = client.get(url, params={"from": "2026-02", "to": "2026-03"})
    assert page.status_code == 200 and "Cốc San 2" not in page.text
    assert client.get(url, params={"village": world.village_a2}).status_code == 404
