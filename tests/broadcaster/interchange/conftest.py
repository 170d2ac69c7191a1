"""Two real stations over real HTTP (uvicorn in threads, each its own database and data directory) on one fixed
clock, on SQLite and on PostgreSQL (two databases). The outbox's pump is run by the tests at chosen instants,
so "six hours offline" is a clock moved forward, not a wait. tests/broadcaster/interchange/test_two_processes.py runs the
stations as separate `loa serve` processes instead."""
from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from tests.broadcaster.station.live import LiveStation
from tests.ports import free_port
from tests.broadcaster.interchange import stations
from tests.databases import PG_ADMIN_URL, _empty_pg
from tests.station_rig import (  # noqa: F401  (the shared fixtures: real audio, cheap argon2, PG template)
    T0, Clock, _cheap_argon2, mastered, wav_bytes,
)


@pytest.fixture(scope="session")
def pg_url_b():
    """A second PostgreSQL database for the second station (dropped at the end)."""
    from loa.db import make_engine, upgrade

    name = f"loa_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_urls(request, tmp_path, sqlite_template) -> tuple[str, str]:
    if request.param == "sqlite":
        urls = []
        for name in ("province", "commune"):
            path = tmp_path / f"{name}.db"
            shutil.copy(sqlite_template, path)
            urls.append(f"sqlite:///{path}")
        return urls[0], urls[1]
    a, b = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_url_b")
    _empty_pg(a)
    _empty_pg(b)
    return a, b


@dataclass
class Pair:
    province: stations.Station
    commune: stations.Station
    p_live: LiveStation
    c_live: LiveStation
    clock: Clock
    devices: list[int]
    facts: object


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def pair(tmp_path, db_urls, clock, mastered):
    from api.app import create_app

    store_root, facts = mastered
    province = stations.open_station(tmp_path / "province", db_urls[0], stations.PROVINCE)
    commune = stations.open_station(tmp_path / "commune", db_urls[1], stations.COMMUNE)
    now = clock()
    stations.seed_province(province, now, ["CS"])
    devices = stations.seed_commune(commune, now, "CS")
    stations.put_audio(province, store_root)
    lives = []
    for st in (province, commune):
        live = LiveStation(lambda st=st: create_app(st.settings, clock=clock, start_worker=False), free_port())
        st.url = live.url
        lives.append(live)
    stations.register(province, commune, now, ["CS"])
    for live in lives:
        live.start()
    yield Pair(province, commune, lives[0], lives[1], clock, devices, facts)
    for live in lives:
        live.stop()
    province.engine.dispose()
    commune.engine.dispose()
