"""The web pages against a station with a world: fixtures from tests/api/web/web_rig.py.
Helpers are imported from that module by the tests themselves; this file only exposes its fixtures (and the
browser stations' per-worker database template from served.py)."""
from tests.api.web.served import world_template  # noqa: F401  (fixture)
from tests.api.web.web_rig import (  # noqa: F401  (fixtures)
    _cheap_argon2, app, client, clock, facts, mastered, settings, world,
)
