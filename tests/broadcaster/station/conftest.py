"""The station side of the device protocol: fixtures from tests/broadcaster/station/device_rig.py.
Helpers are imported from that module by the tests themselves; this file only exposes its fixtures."""
from tests.broadcaster.station.device_rig import (  # noqa: F401  (fixtures)
    _cheap_argon2, app, client, clock, db_url, engine, facts, mastered, schedules_service, settings, wav_bytes,
    world,
)
