"""Ops tests also schedule on loudspeakers: the device fixture beside the station fixtures of tests/station/conftest.py."""
from __future__ import annotations

from tests.broadcaster.station.device_rig import schedules_service  # noqa: F401  (fixture)
