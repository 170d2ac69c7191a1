"""tests/replay.py: a replayed world is the same rows, with the same next ids, as one built through the services."""
from __future__ import annotations

import shutil

import pytest

from loa.db import make_engine, session_scope
from tests.replay import Replay, _rows, _sequences, _tables
from tests.databases import _empty_pg
from tests.station_rig import T0, build_world

from tests.station_rig import _cheap_argon2  # noqa: F401  (fixture)


def _state(engine):
    with engine.connect() as conn:
        return _rows(conn, _tables()), _sequences(conn)


def _next_user_id(engine) -> int:
    from loa.accounts.auth import CLI
    from loa.accounts.service import create_user

    with session_scope(engine) as s:
        return create_user(s, CLI, "nguoi-moi", "mat-khau-rat-dai", T0).id


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_replayed_world_is_the_built_one(dialect, request, tmp_path, sqlite_template):
    def fresh(name: str) -> str:
        if dialect == "sqlite":
            shutil.copy(sqlite_template, tmp_path / name)
            return f"sqlite:///{tmp_path / name}"
        url = request.getfixturevalue("pg_url")
        _empty_pg(url)
        return url

    replay, results = Replay(), []
    for name in ("built.db", "replayed.db", "replayed-again.db"):
        engine = make_engine(fresh(name))
        world = replay.build(engine, "world", lambda: build_world(engine, T0))  # noqa: B023 (called at once)
        results.append((world, _state(engine), _next_user_id(engine)))
        engine.dispose()
    built, replayed, again = results
    assert built[1][0]["users"] and built == replayed == again
    assert replayed[0] is not again[0]  # each test gets its own World to change
