"""The `accounts` migration on a station with data (SQLite and PostgreSQL): tokens made when 3,650 days were
allowed are cut to 365 days after their creation, shorter ones are left alone, and existing users keep their
password (no one-time flag)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from loa.db import make_engine, upgrade
from tests.loa.test_migration_approval import fresh_url  # noqa: F401  (SQLite and a fresh PostgreSQL)

T = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def _at(engine, value: datetime):
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def test_old_long_tokens_are_capped_at_365_days(fresh_url):  # noqa: F811
    engine = make_engine(fresh_url)
    upgrade(engine, "approval")
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO users (id, username, display_name, password_hash, is_admin, is_active, "
                          "created_at) VALUES (1, 'canbo', 'canbo', 'x', false, true, :n)"), {"n": _at(engine, T)})
        for tid, days in ((1, 3650), (2, 90), (3, 366)):
            c.execute(sa.text("INSERT INTO auth_tokens (id, user_id, kind, name, token_hash, created_at, expires_at) "
                              "VALUES (:i, 1, 'bearer', 't', :h, :c, :e)"),
                      {"i": tid, "h": f"{tid:064d}", "c": _at(engine, T), "e": _at(engine, T + timedelta(days=days))})
    upgrade(engine)
    with engine.connect() as c:
        rows = dict(c.execute(sa.text("SELECT id, expires_at FROM auth_tokens")).all())
        must_change = c.execute(sa.text("SELECT must_change_password FROM users")).scalar()
        agents = c.execute(sa.text("SELECT DISTINCT user_agent FROM auth_tokens")).scalars().all()
    engine.dispose()

    def days(value):
        value = datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite: text
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return (value - T).days

    assert {i: days(v) for i, v in rows.items()} == {1: 365, 2: 90, 3: 365}
    assert must_change is False or must_change == 0
    assert agents == [""]
