"""The audit trail page (issue 14): filters by person, action, object and dates, pages, a formula-safe CSV in
the page's language; a cadre sees their commune only."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta


from tests.api.web.org import as_user, csrf_headers


# ------------------------------------------------------------------ the audit trail


def _seed_changes(client, world):
    admin = as_user(client, "admin")
    for lon in ("103.91", "103.92", "103.93"):
        client.patch(f"/api/v1/villages/{world.village_a}", json={"latitude": 22.5, "longitude": float(lon)},
                     headers=csrf_headers(admin))
    client.patch(f"/api/v1/villages/{world.village_b}", json={"name": "Làng Mới 2"}, headers=csrf_headers(admin))
    # A commune named like a formula: its name is a cell of the CSV.
    client.patch(f"/api/v1/communes/{world.b}", json={"name": "=HYPERLINK(\"http://x\")"}, headers=csrf_headers(admin))
    return admin


def test_audit_trail_filters_pages_and_csv(client, app, world, clock):
    _seed_changes(client, world)
    page = client.get("/app/admin/audit", params={"object_type": "village", "object_id": world.village_a,
                                                  "action": "village.update"})
    assert page.status_code == 200 and page.text.count('class="item" id="audit-') == 3
    assert "Thôn: đã sửa" in page.text and "Số mục: 3" in page.text
    assert "Kinh độ: 103.92 → 103.93" in page.text and '"changes"' not in page.text  # in words, not JSON
    assert client.get("/app/admin/audit", params={"person": "cadre", "action": "village.update"}).text.count(
        'class="item" id="audit-') == 0
    # Dates: everything happened on 2 March (the test clock); 3 March has nothing.
    assert "Số mục: 0" in client.get("/app/admin/audit", params={"since": "2026-03-03"}).text
    assert 'class="item" id="audit-' in client.get("/app/admin/audit", params={"since": "2026-03-02",
                                                                            "until": "2026-03-02"}).text
    bad = client.get("/app/admin/audit", params={"since": "02/03/2026"})
    assert bad.status_code == 422 and "phải là một ngày" in bad.text
    assert client.get("/app/admin/audit", params={"since": "2026-03-05", "until": "2026-03-01"}).status_code == 422
    # Pages of 50.
    from loa.accounts.auth import CLI
    from loa.audit import service as audit
    from loa.db import session_scope

    with session_scope(app.state.engine) as s:
        for i in range(60):
            audit.record(s, CLI, "device.sound", "device", 1, clock() + timedelta(seconds=i), commune_id=world.a)
    first = client.get("/app/admin/audit", params={"action": "device.sound"}).text
    assert first.count('class="item" id="audit-') == 50 and 'id="older"' in first
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert client.get(older).text.count('class="item" id="audit-') == 10
    # CSV of the same selection: Vietnamese headers, formula-safe cells.
    r = client.get("/app/admin/audit.csv", params={"object_type": "village"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["Thời điểm", "Người làm", "Địa chỉ", "Hành động"]
    assert len(rows) == 1 + 4 + 3  # 4 changes and 3 creations of villages
    assert any(cell.startswith("'") and "HYPERLINK" in cell for row in rows for cell in row)
    assert not any(cell.startswith("=") for row in rows for cell in row)
    client.cookies.set("loa_lang", "en")
    english = client.get("/app/admin/audit.csv", params={"object_type": "village"})
    assert english.text.lstrip("\ufeff").startswith("Time,Person,Address,Action")


def test_audit_trail_scope_for_a_cadre(client, app, world):
    _seed_changes(client, world)
    as_user(client, "cadre")
    page = client.get("/app/admin/audit")  # their own commune's entries only
    assert page.status_code == 200
    assert 'class="item" id="audit-' in page.text and "HYPERLINK" not in page.text
    assert 'value="">Tất cả các xã' not in page.text
    assert client.get("/app/admin/audit", params={"commune": world.b}).status_code == 404
    rows = list(csv.reader(io.StringIO(client.get("/app/admin/audit.csv").text.lstrip("\ufeff"))))
    assert len(rows) > 1 and all("HYPERLINK" not in ",".join(r) for r in rows)
    assert client.get("/api/v1/audit").status_code == 403
    r = client.get(f"/api/v1/communes/{world.a}/audit", params={"actor": "admin", "action": "village."})
    assert r.status_code == 200 and len(r.json()) == 3
    r = client.get(f"/api/v1/communes/{world.a}/audit", params={"since": "2026-03-03T00:00:00+07:00"})
    assert r.status_code == 200 and r.json() == []
