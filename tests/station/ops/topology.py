"""The compose topology without Docker, on loopback: two `loa serve` processes behind Caddy (deploy/Caddyfile),
one `loa scheduler`, one `loa worker`, a fresh PostgreSQL database, the local Mosquitto, and N real agents
(broadcaster.agent.simulation.Fleet) in this process. Used by tests/station/ops/test_topology.py and bench/province.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.station.ops.proc import start_caddy, stop, wait_port
from tests.ports import free_port

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOA = str(Path(sys.executable).with_name("loa"))
PASSWORD = "mat-khau-rat-dai"


def create_database() -> str:
    name = f"loa_topo_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class World:
    communes: list[int]
    villages: dict[int, list[int]]  # commune → its villages
    creds: list[dict]
    tokens: dict[str, str]

    @property
    def commune(self) -> int:
        return self.communes[0]


def build_world(db_url: str, data_dir: Path, devices: int, villages: int, now: datetime,
                mqtt_device_url: str | None, communes: int = 1) -> World:
    """A province: `communes` communes sharing `villages` villages evenly, `devices` enrolled devices spread
    evenly over the villages (credentials issued as enrollment does), and a secretary and two cadres who are
    members of every commune, with bearer tokens. No quiet hours (the tests play "10 minutes from now" at any
    hour; 22:00-05:00 would drop it)."""
    from broadcaster.signing import KeyRing
    from broadcaster.station import enrollment
    from broadcaster.station.context import StationContext
    from broadcaster.station.models import Enrollment
    from loa.accounts import auth
    from loa.accounts.auth import CLI
    from loa.accounts.models import User
    from loa.accounts.service import add_membership, create_user
    from loa.db import make_engine, session_scope, upgrade
    from loa.org import service as org
    from loa.org.models import Device
    from schedules.tables import StationSettingsRow

    engine = make_engine(db_url)
    upgrade(engine)
    ctx = StationContext(KeyRing(data_dir / "keys"), data_dir / "audio", mqtt_device_url=mqtt_device_url)
    tokens: dict[str, str] = {}
    by_commune: dict[int, list[int]] = {}
    with session_scope(engine) as s:
        p = org.create_province(s, CLI, "Lào Cai", now)
        cs = [org.create_commune(s, CLI, p.id, f"Xã {i}", now).id for i in range(communes)]
        for i in range(villages):
            c = cs[i % communes]
            by_commune.setdefault(c, []).append(org.create_village(s, CLI, c, f"Thôn {i}", now).id)
        for c in cs:
            s.add(StationSettingsRow(commune_id=c, quiet_start="00:00", quiet_end="00:00", updated_at=now))
        for name, role in (("thu-ky", "secretary"), ("can-bo", "cadre"), ("can-bo-2", "cadre")):
            user = create_user(s, CLI, name, PASSWORD, now)
            for c in cs:
                add_membership(s, CLI, user.id, c, role, now)
            _, tokens[name] = auth.issue_token(s, s.get(User, user.id), auth.BEARER, now, timedelta(days=3), "topo")
    flat = [(c, v) for c in cs for v in by_commune[c]]
    creds: list[dict] = []
    for start in range(0, devices, 500):
        with session_scope(engine) as s:
            for i in range(start, min(devices, start + 500)):
                c, v = flat[i % len(flat)]
                d = Device(commune_id=c, village_id=v, name=f"Cụm {i}", created_at=now)
                s.add(d)
                s.flush()
                e = Enrollment(public_id=f"enr_t{i}", kind="cadre", code_hash=f"{i:064d}", device_id=d.id,
                               created_at=now, expires_at=now, status="consumed", agent_version="0.1.0")
                creds.append(enrollment.issue_credentials(s, ctx, d, e, now))
    engine.dispose()
    return World(cs, by_commune, creds, tokens)


def copy_item(db_url: str, item_id: int, communes: list[int]) -> dict[int, int]:
    """The same approved audio as an item of each other commune (a provincial bulletin every commune airs)."""
    from content.library.models import ContentItem
    from loa.db import make_engine, session_scope

    engine = make_engine(db_url)
    out = {}
    with session_scope(engine) as s:
        src = s.get(ContentItem, item_id)
        for c in communes:
            if c == src.commune_id:
                out[c] = item_id
                continue
            data = src.model_dump(exclude={"id"})
            data["commune_id"] = c
            row = ContentItem(**data)
            s.add(row)
            s.flush()
            out[c] = row.id
    engine.dispose()
    return out


@dataclass
class Topology:
    """The processes. `env` is what every `loa` process gets (LOA_* settings)."""

    db_url: str
    data_dir: Path
    log_dir: Path
    mqtt_url: str | None = "mqtt://127.0.0.1:1883"
    api_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    proxy_port: int = field(default_factory=free_port)
    apis: list[subprocess.Popen | None] = field(default_factory=lambda: [None, None])
    scheduler: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    caddy: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")}
        env.update({"LOA_DATA_DIR": str(self.data_dir), "LOA_DATABASE_URL": self.db_url,
                    "LOA_WORKER_ENABLED": "false", "LOA_SCHEDULER_ENABLED": "false",
                    "LOA_PRINT_SETUP_TOKEN": "false", "LOA_WORKER_POLL_SECONDS": "0.5",
                    "LOA_JOB_BACKOFF_SECONDS": "1"})
        if self.mqtt_url:
            env.update({"LOA_MQTT_URL": self.mqtt_url})
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen([LOA, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_api(self, i: int) -> None:
        self.apis[i] = self._spawn(f"api-{i + 1}", ["serve", "--host", "127.0.0.1", "--port", str(self.api_ports[i])])
        wait_port(self.api_ports[i], 60, self.apis[i])

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", ["scheduler"])

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", ["worker"])

    def start(self) -> "Topology":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(2):
            self.start_api(i)
        self.start_worker()
        self.start_scheduler()
        self.caddy = start_caddy(self.proxy_port, [f"127.0.0.1:{p}" for p in self.api_ports],
                                 self.data_dir / "audio", self.log_dir / "caddy.log")
        return self

    def kill_api(self, i: int) -> None:
        stop(self.apis[i], sig=9)

    def restart_scheduler(self, hard: bool = False) -> None:
        stop(self.scheduler, sig=9 if hard else 15)
        self.start_scheduler()

    def processes(self) -> dict[str, subprocess.Popen | None]:
        return {"api-1": self.apis[0], "api-2": self.apis[1], "scheduler": self.scheduler, "worker": self.worker,
                "caddy": self.caddy}

    def close(self) -> None:
        for proc in [self.caddy, self.scheduler, self.worker, *self.apis]:
            stop(proc)


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached after {timeout} s")


def approved_text_item(url: str, world: World, text: str, title: str, timeout: float = 90) -> dict:
    """Through the proxy: the secretary writes a text, the worker process renders it (espeak-ng), she submits,
    a cadre approves."""
    h = {name: {"Authorization": f"Bearer {t}"} for name, t in world.tokens.items()}
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post(f"/api/v1/communes/{world.commune}/content", json={"title": title, "text": text},
                   headers=h["thu-ky"])
        assert r.status_code == 202, r.text
        item_id = r.json()["item"]["id"]
        wait_for(lambda: c.get(f"/api/v1/content/{item_id}", headers=h["thu-ky"]).json()["render_state"] == "ready",
                 timeout, what="render by the worker process")
        assert c.post(f"/api/v1/content/{item_id}/submit", headers=h["thu-ky"]).status_code == 200
        heard = c.get(f"/api/v1/content/{item_id}", headers=h["can-bo"]).json()["audio"]["sha256"]
        r = c.post(f"/api/v1/content/{item_id}/approve", headers=h["can-bo"], json={"reviewed_sha256": heard})
        assert r.status_code == 200, r.text
        return r.json()


def add_rule(db_url: str, commune: int, item_id: int, at: datetime, title: str) -> int:
    """A one-off schedule rule for the whole commune (as the schedules API stores it)."""
    from loa.db import make_engine, session_scope
    from schedules.tables import ScheduleRule

    engine = make_engine(db_url)
    with session_scope(engine) as s:
        row = ScheduleRule(commune_id=commune, title=title, priority="normal", at=at, target_commune=True,
                           programme=[{"type": "item", "content_id": item_id}],
                           created_at=datetime.now(timezone.utc) - timedelta(minutes=5),
                           updated_at=datetime.now(timezone.utc) - timedelta(minutes=5))
        s.add(row)
        s.flush()
        rule_id = row.id
    engine.dispose()
    return rule_id


def scalar(db_url: str, sql: str, **params):
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return value


def follow_real_time(fleet) -> None:
    """Bring the agents' virtual clock up to the wall clock the station processes use."""
    lag = (datetime.now(timezone.utc) - fleet.clock.raw_now()).total_seconds()
    if lag > 0:
        fleet.clock.advance(lag)


def parallel_round(fleet, agents=None, threads: int = 8, heartbeat: bool = True, during=None) -> float:
    """One network round (sync, heartbeat, upload) of every agent, `threads` at a time; `during(i)` is called
    after the i-th agent finishes (to kill a process midway). Returns the wall time."""
    agents = list(fleet.agents if agents is None else agents)
    started = time.perf_counter()
    done = [0]

    def one(agent):
        agent.network_round(do_heartbeat=heartbeat)
        done[0] += 1
        if during is not None:
            during(done[0])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, agents))
    return time.perf_counter() - started
