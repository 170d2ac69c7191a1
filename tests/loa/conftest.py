"""The kernel against a real station database: fixtures from tests/station_rig.py.
Helpers are imported from that module by the tests themselves; this file only exposes its fixtures."""
from tests.station_rig import (  # noqa: F401  (fixtures)
    _cheap_argon2, app, client, clock, db_url, engine, facts, mastered, settings, wav_bytes, world,
)
