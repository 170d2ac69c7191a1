"""Provinces, districts and their staff: fixtures from tests/schedules/bulletins/levels_rig.py.
Helpers are imported from that module by the tests themselves; this file only exposes its fixtures."""
from tests.schedules.bulletins.levels_rig import (  # noqa: F401  (fixtures)
    _cheap_argon2, app, client, clock, db_url, engine, facts, levels, mastered, settings, wav_bytes, world,
)
