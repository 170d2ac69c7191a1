"""The 0004 migration on a station with data (SQLite and PostgreSQL): approvals made before keep standing for
the version the item has, every item gets its author as first contributor, and CAP items nobody reviewed go to
the review queue instead of staying approved."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from loa.db import make_engine, upgrade

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"loa_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_existing_items_are_migrated_honestly(fresh_url):
    engine = make_engine(fresh_url)
    upgrade(engine, "0003")
    now = "2026-03-02 01:00:00+00:00"
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO provinces (id, name, code, created_at) VALUES (1, 'P', 'P', :n)"), {"n": now})
        c.execute(sa.text("INSERT INTO communes (id, province_id, name, code, timezone, created_at) "
                          "VALUES (1, 1, 'C', 'C', 'Asia/Ho_Chi_Minh', :n)"), {"n": now})
        for uid, name in ((1, "bithu"), (2, "canbo")):
            c.execute(sa.text("INSERT INTO users (id, username, display_name, password_hash, is_admin, is_active, created_at) "
                              "VALUES (:i, :u, :u, 'x', false, true, :n)"), {"i": uid, "u": name, "n": now})
        rows = [(1, "approved", 2, "recording"), (2, "draft", None, "text"), (3, "approved", None, "text")]
        for iid, status, reviewer, source in rows:
            c.execute(sa.text(
                "INSERT INTO content_items (id, commune_id, title, kind, language, source, render_state, "
                "render_generation, status, author_id, reviewed_by, search_text, created_at, updated_at) "
                "VALUES (:i, 1, 't', 'guidance', 'vi', :src, 'ready', 1, :s, 1, :r, '', :n, :n)"),
                {"i": iid, "s": status, "r": reviewer, "src": source, "n": now})
        c.execute(sa.text("INSERT INTO cap_alerts (id, commune_id, identifier, sender, sent, msg_type, raw_xml, "
                          "decision, status, content_item_id, received_by, received_at) VALUES "
                          "(7, 1, 'a', 's', :n, 'Alert', '<alert/>', '{}', 'confirmed', 3, 2, :n)"), {"n": now})
    upgrade(engine)
    with engine.connect() as c:
        items = {r.id: r for r in c.execute(sa.text(
            "SELECT id, status, version, approved_version, cap_alert_id FROM content_items"))}
        kinds = dict(c.execute(sa.text("SELECT item_id, kind FROM content_contributions")).all())
    assert (items[1].status, items[1].version, items[1].approved_version) == ("approved", 1, 1)
    assert (items[2].status, items[2].approved_version) == ("draft", None)
    assert (items[3].status, items[3].approved_version, items[3].cap_alert_id) == ("submitted", None, 7)
    assert kinds == {1: "create_recording", 2: "create_text", 3: "cap_alert"}
    engine.dispose()
