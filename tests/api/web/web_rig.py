"""Fixtures for the web app: a real app over a temp SQLite database and data dir, a small world (one commune
with two villages, one user per role, an outsider commune), and helpers to log in through the login form."""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.replay import Replay

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)
PASSWORD = "mat-khau-rat-dai"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    a: int
    b: int
    village_a: int
    village_a2: int
    village_b: int
    users: dict[str, int] = field(default_factory=dict)


def build_world(engine, now: datetime) -> World:
    from loa.accounts.auth import CLI
    from loa.accounts.service import add_membership, create_user
    from loa.db import session_scope
    from loa.org import service as org

    with session_scope(engine) as s:
        p = org.create_province(s, CLI, "Lào Cai", now, "LC")
        a = org.create_commune(s, CLI, p.id, "Cốc San", now, "CS")
        b = org.create_commune(s, CLI, p.id, "Tả Phời", now, "TP")
        va = org.create_village(s, CLI, a.id, "Ún Tà", now, "pcc")
        va2 = org.create_village(s, CLI, a.id, "Cốc San 2", now)
        vb = org.create_village(s, CLI, b.id, "Làng Mới", now)
        for i, village in enumerate((va, va2, va, vb)):
            org.create_device(s, CLI, village.commune_id, f"Cụm loa {i + 1}", now, village.id)
        w = World(a.id, b.id, va.id, va2.id, vb.id)
        spec = {"admin": (None, None), "cadre": (a.id, "cadre"), "cadre2": (a.id, "cadre"),
                "secretary": (a.id, "secretary"), "village_head": (a.id, "village_head"),
                "outsider": (b.id, "cadre"), "outsider2": (b.id, "cadre")}
        for name, (commune, role) in spec.items():
            user = create_user(s, CLI, name.replace("_", "-"), PASSWORD, now, is_admin=(name == "admin"))
            if commune:
                add_membership(s, CLI, user.id, commune, role, now, va.id if role == "village_head" else None)
            w.users[name] = user.id
    return w


from tests.station_rig import _cheap_argon2  # noqa: E402,F401  (autouse: real argon2id, test-sized cost)

_replay = Replay()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def settings(tmp_path, sqlite_template):
    from loa.settings import Settings

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sqlite_template, data / "loa.db")
    return Settings(data_dir=data, worker_enabled=False, print_setup_token=False)


@pytest.fixture
def app(settings, clock):
    from api.app import create_app

    return create_app(settings, clock=clock)


@pytest.fixture
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def world(app, client, clock) -> World:
    """Built through the services by the first test of a worker, replayed as rows after that (tests/replay.py)."""
    engine, now = app.state.engine, clock()
    return _replay.build(engine, ("web-world", now), lambda: build_world(engine, now))


def login(client, username: str, password: str = PASSWORD) -> str:
    """Log in through the HTML form; returns the CSRF token the pages put in their forms."""
    r = client.post("/login", data={"username": username.replace("_", "-"), "password": password, "next": "/app"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client.cookies.get("loa_csrf")


def form_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture(scope="session")
def mastered(tmp_path_factory):
    """One real mastered recording (espeak speech through the real pipeline), copied into each test's store."""
    from content.pipeline import master_recording
    from content.store import AudioStore
    from tests.station_rig import speech_wav

    root = tmp_path_factory.mktemp("web-store")
    src = root / "in.wav"
    wav = speech_wav("Xin chào bà con thôn Ún Tà, mời bà con đi họp lúc bảy giờ tối")
    src.write_bytes(wav)
    facts = master_recording(src, AudioStore(root / "audio"))
    return root / "audio", facts, wav


@pytest.fixture
def facts(settings, mastered):
    store_root, facts, _ = mastered
    shutil.copytree(store_root, settings.audio_dir, dirs_exist_ok=True)
    return facts


def make_item(app, world: World, facts, now, author="secretary", status="approved", **meta) -> int:
    from content.library import service as library
    from content.library.schemas import ItemMeta
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.db import session_scope

    transcript = meta.pop("transcript", "Mời bà con đi họp lúc bảy giờ tối")
    with session_scope(app.state.engine) as s:
        def who(name):
            return principal_for(s, s.get(User, world.users[name]), "127.0.0.1", "bearer")

        m = ItemMeta(title=meta.pop("title", "Họp thôn"), **meta)
        commune = world.b if author == "outsider" else world.a
        item = library.create_recording_item(s, who(author), commune, m, facts, now, transcript=transcript)
        if status in ("submitted", "approved", "rejected"):
            library.submit(s, who(author), item.id, now)
        if status == "approved":
            library.approve(s, who("outsider2" if author == "outsider" else "cadre"), item.id, now,
                            reviewed_sha256=item.audio_sha256)
        if status == "rejected":
            library.reject(s, who("cadre"), item.id, "Sai chính tả", now)
        return item.id
