"""What every permission matrix shares: its roles, a row of the statuses they expect, and the answers each role
gets from one route (see tests/api/matrix_registry.py for how the matrices are found)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

ROLES = ["anon", "admin", "cadre", "secretary", "village_head", "outsider"]


def row(admin, cadre, secretary, village_head, outsider, anon=401) -> dict[str, int]:
    return dict(anon=anon, admin=admin, cadre=cadre, secretary=secretary, village_head=village_head,
                outsider=outsider)


def answers(client, world, method: str, path: str,
            prepare: Callable[[], tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """Role → the response to `method path`, each role with fresh objects: `prepare()` gives the path's
    parameters and the JSON body (a new device, a new code, …) so one role's change cannot hide another's."""
    got = {}
    for role in ROLES:
        kw, body = prepare()
        url = path.format(**{k: v for k, v in kw.items() if "{" + k + "}" in path})
        got[role] = client.request(method, url, json=body, headers=world.h(None if role == "anon" else role))
    return got
