"""The schedules API: fixtures from tests/api/schedules/schedules_rig.py.
Helpers are imported from that module by the tests themselves; this file only exposes its fixtures."""
from tests.api.schedules.schedules_rig import (  # noqa: F401  (fixtures)
    _cheap_argon2, app, client, clock, db_url, engine, facts, mastered, settings, station, wav_bytes, world,
)
