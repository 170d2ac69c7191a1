"""Every domain's permission matrix, gathered so one test can assert that no route is left out.

A domain adds its matrix by creating `tests/<package>/…/test_permissions_<domain>.py` (anywhere under tests/) that defines
`MATRIX = {(METHOD, "/api/v1/path/{param}"): (setup, {role: status, …}), …}` and, if it has routes reachable
without an account, `PUBLIC = {(METHOD, path), …}`; routes that take a device token instead go in `DEVICE_AUTH`. The files are discovered by name, so nothing here needs
editing; `tests/api/test_permissions.py` holds the matrix of issue 3's routes.
"""
from __future__ import annotations

import importlib
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def matrix_modules() -> list[str]:
    names = ["tests.api.test_permissions"]
    for path in sorted(TESTS.rglob("test_permissions_*.py")):
        names.append(".".join(("tests", *path.relative_to(TESTS).with_suffix("").parts)))
    return names


def covered_routes() -> tuple[set[tuple[str, str]], dict[tuple[str, str], str]]:
    """(every route some matrix or PUBLIC set names, route → the module that named it twice if any)."""
    routes: set[tuple[str, str]] = set()
    twice: dict[tuple[str, str], str] = {}
    for name in matrix_modules():
        module = importlib.import_module(name)
        for route in [*getattr(module, "MATRIX", {}), *getattr(module, "PUBLIC", set()),
                      *getattr(module, "DEVICE_AUTH", set())]:
            if route in routes:
                twice[route] = name
            routes.add(route)
    return routes, twice
