"""Fixtures: the station's server and device fixtures (SQLite and PostgreSQL, two communes, real audio)."""
from __future__ import annotations

from tests.broadcaster_station.conftest import schedules_service  # noqa: F401  (fixture)
from tests.server.conftest import (  # noqa: F401  (fixtures)
    Clock, World, _cheap_argon2, app, client, clock, db_url, engine, facts, make_item, mastered, pg_url, settings,
    sqlite_template, wav_bytes, world,
)
