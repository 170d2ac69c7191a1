"""Permission matrix of the interchange routes (discovered by tests/api/matrix_registry.py): only a system admin
manages peers; the station-to-station routes need no account (the peer's signature is checked instead:
tests/broadcaster/interchange/test_refusals.py)."""
from __future__ import annotations

import itertools

import pytest

from tests.station_rig import (  # noqa: F401  (the station on SQLite and PostgreSQL, with its world)
    _cheap_argon2, app, client, clock, db_url, engine, settings, world,
)

ROLES = ["anon", "admin", "cadre", "secretary", "village_head", "outsider"]
ADMIN_ONLY = dict(anon=401, cadre=403, secretary=403, village_head=403, outsider=403)
_n = itertools.count()


def _key() -> str:
    from broadcaster.signing import generate_key

    return generate_key().public_info()["public_key"]


def _peer(engine, clock) -> str:
    from broadcaster.interchange import peers
    from loa.accounts.auth import CLI
    from loa.db import session_scope

    station = f"xa-{next(_n)}"
    with session_scope(engine) as s:
        peers.register(s, CLI, station_id=station, name=station, role="lower", base_url="https://loa.xa.vn",
                       public_key=_key(), now=clock(), communes=["CS"])
    return station


MATRIX = {
    ("GET", "/api/v1/interchange/peers"): (None, {**ADMIN_ONLY, "admin": 200}),
    ("POST", "/api/v1/interchange/peers"): ("new", {**ADMIN_ONLY, "admin": 201}),
    ("POST", "/api/v1/interchange/peers/{station_id}/keys"): ("key", {**ADMIN_ONLY, "admin": 200}),
    ("PUT", "/api/v1/interchange/peers/{station_id}/communes"): ("communes", {**ADMIN_ONLY, "admin": 200}),
    ("POST", "/api/v1/interchange/peers/{station_id}/disable"): (None, {**ADMIN_ONLY, "admin": 200}),
    ("GET", "/api/v1/interchange/outbox"): (None, {**ADMIN_ONLY, "admin": 200}),
}
PUBLIC = {("POST", "/api/interchange/v1/messages"), ("GET", "/api/interchange/v1/audio/{sha256}"),
          ("GET", "/api/interchange/v1/identity")}


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_interchange_permission_matrix(endpoint, client, world, engine, clock):
    method, path = endpoint
    kind, expected = MATRIX[endpoint]
    got = {}
    for role in ROLES:
        station = _peer(engine, clock)
        body = None
        if kind == "new":
            body = {"station_id": f"moi-{next(_n)}", "role": "lower", "base_url": "https://loa.moi.vn",
                    "public_key": _key(), "communes": ["TP"]}
        elif kind == "key":
            body = {"public_key": _key()}
        elif kind == "communes":
            body = {"communes": ["CS", "TP"]}
        headers = world.h(None if role == "anon" else role)
        got[role] = client.request(method, path.format(station_id=station), json=body, headers=headers).status_code
    assert got == expected
