"""The relay_streams migration (issue 14) on SQLite and PostgreSQL: up from the approval schema, the table
takes a stream (names unique), down drops it, and up again."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from alembic import command

from loa.db import alembic_config, make_engine, upgrade
from tests.loa.test_migration_approval import fresh_url  # noqa: F401  (fixture: an empty database)


def test_relay_streams_up_down_up(fresh_url):  # noqa: F811
    engine = make_engine(fresh_url)
    upgrade(engine, "approval")
    assert "relay_streams" not in sa.inspect(engine).get_table_names()
    upgrade(engine, "relay_streams")
    now = "2026-03-02 01:00:00+00:00"
    insert = sa.text("INSERT INTO relay_streams (name, url, kind, commune_id, enabled, created_at, updated_at) "
                     "VALUES (:name, 'https://radio.example.vn/vov1', 'national', NULL, true, :n, :n)")
    with engine.begin() as c:
        c.execute(insert, {"name": "VOV1", "n": now})
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(insert, {"name": "VOV1", "n": now})
    command.downgrade(alembic_config(engine), "approval")
    assert "relay_streams" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert "relay_streams" in sa.inspect(engine).get_table_names()
    engine.dispose()
