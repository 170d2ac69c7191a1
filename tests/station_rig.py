"""Fixtures for the station server: every DB test runs on SQLite and on PostgreSQL (127.0.0.1:5432, trust auth).

PostgreSQL gets one fresh database per test process (tests/databases.py: migrated once, dropped at the end);
tests start from empty tables (_empty_pg). SQLite gets a copy of a migrated template file per test. If nothing listens at
127.0.0.1:5432 the postgres tests skip, saying how to get PostgreSQL, and fail under LOA_TEST_STRICT=1 (CI)
(tests/conftest.py); a server that listens but refuses us fails them."""
from __future__ import annotations

import io
import shutil
import wave
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.databases import _empty_pg
from tests.replay import Replay

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)


class RealClock:
    """The wall clock, for tests of real processes (agents, a box) that cannot share a simulated one."""

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc)


def no_quiet_hours(engine, commune_id: int) -> None:
    """The commune without quiet hours (start = end). A test on the wall clock must pass at any hour: with the
    default 22:00-05:00 every normal play it schedules "in two seconds" would be skipped at night."""
    from loa.db import session_scope
    from schedules.tables import StationSettingsRow

    with session_scope(engine) as s:
        row = s.get(StationSettingsRow, commune_id)
        if row is None:
            s.add(StationSettingsRow(commune_id=commune_id, quiet_start="00:00", quiet_end="00:00",
                                     updated_at=datetime.now(timezone.utc)))
        else:
            row.quiet_start = row.quiet_end = "00:00"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template):
    if request.param == "sqlite":
        path = tmp_path / "loa.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _empty_pg(url)
    return url


@pytest.fixture
def settings(tmp_path, db_url):
    from loa.settings import Settings

    return Settings(data_dir=tmp_path / "data", database_url=db_url, worker_enabled=False, print_setup_token=False,
                    job_backoff_seconds=10, job_lease_seconds=60, max_upload_bytes=2 * 1024 * 1024)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(settings, clock):
    from api.app import create_app

    return create_app(settings, clock=clock)


@pytest.fixture
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def engine(app, client):
    return app.state.engine


def speech_wav(text: str = "Xin chào bà con thôn Ún Tà", seconds_of_silence: float = 0.0) -> bytes:
    """Real Vietnamese speech from espeak-ng, as a WAV file in memory."""
    from content.tts.espeak import synthesize_pcm

    pcm = synthesize_pcm(text, "vi", 1.0)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.to_int16_bytes())
    return buf.getvalue()


def silent_wav(seconds: float = 2.0, rate: int = 22050) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


@pytest.fixture(scope="session")
def wav_bytes():
    return speech_wav()


@dataclass
class World:
    """Two communes of one province; in commune A one user per role, in commune B a cadre (the outsider)."""

    province: int
    a: int
    b: int
    village_a: int
    village_a2: int
    village_b: int
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


PASSWORD = "mat-khau-rat-dai"


_replay = Replay()


@pytest.fixture
def world(engine, clock) -> World:
    """Built through the services by the first test of a worker, replayed as rows after that (tests/replay.py)."""
    now = clock()
    w = _replay.build(engine, ("station-world", now), lambda: build_world(engine, now))
    if isinstance(clock, RealClock):
        for commune_id in (w.a, w.b):
            no_quiet_hours(engine, commune_id)
    return w


def build_world(engine, now: datetime) -> World:
    from loa.accounts import auth
    from loa.accounts.auth import CLI
    from loa.accounts.models import User
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
        w = World(p.id, a.id, b.id, va.id, va2.id, vb.id)
        spec = {"admin": (None, None), "cadre": (a.id, "cadre"), "cadre2": (a.id, "cadre"),
                "secretary": (a.id, "secretary"), "village_head": (a.id, "village_head"),
                "outsider": (b.id, "cadre")}
        for name, (commune, role) in spec.items():
            user = create_user(s, CLI, name.replace("_", "-"), PASSWORD, now, is_admin=(name == "admin"))
            if commune:
                add_membership(s, CLI, user.id, commune, role, now, va.id if role == "village_head" else None)
            w.users[name] = user.id
            _, secret = auth.issue_token(s, s.get(User, user.id), auth.BEARER, now, timedelta(days=30), "test")
            w.tokens[name] = secret
    return w


@pytest.fixture(scope="session")
def mastered(tmp_path_factory, wav_bytes):
    """One real mastered recording (facts + the store files), copied into each test's store when needed."""
    from content.pipeline import master_recording
    from content.store import AudioStore

    root = tmp_path_factory.mktemp("store")
    src = root / "in.wav"
    src.write_bytes(wav_bytes)
    facts = master_recording(src, AudioStore(root / "audio"))
    src.unlink()
    return root / "audio", facts


@pytest.fixture
def facts(settings, mastered):
    """Audio facts whose file exists in this test's store."""
    store_root, facts = mastered
    shutil.copytree(store_root, settings.audio_dir, dirs_exist_ok=True)
    return facts


def make_item(engine, world: World, facts, clock, author: str = "secretary", status: str = "draft", **meta):
    """A recording item made through the service (fast: reuses mastered audio), moved to `status`."""
    from content.library import service as library
    from content.library.schemas import ItemMeta
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.db import session_scope

    with session_scope(engine) as s:
        def who(name):
            return principal_for(s, s.get(User, world.users[name]), "127.0.0.1", "bearer")

        m = ItemMeta(title=meta.pop("title", "Hướng dẫn cài VNeID"), **meta)
        item = library.create_recording_item(s, who(author), world.a if author != "outsider" else world.b, m, facts,
                                             clock(), transcript="Bà con cài đặt VNeID")
        if status in ("submitted", "approved", "rejected", "archived"):
            library.submit(s, who(author), item.id, clock())
        if status == "approved":
            library.approve(s, who("cadre"), item.id, clock(), reviewed_sha256=item.audio_sha256)
        if status == "rejected":
            library.reject(s, who("cadre"), item.id, "Sai chính tả", clock())
        if status == "archived":
            library.archive(s, who("cadre"), item.id, clock())
        return item.id


def failed_text_item(engine, world: World, clock, author: str = "secretary") -> int:
    """A text item whose render failed (no engine has the voice), made through the service and the job."""
    from content.library import service as library
    from content.library.schemas import TextItemCreate
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.db import session_scope

    with session_scope(engine) as s:
        actor = principal_for(s, s.get(User, world.users[author]), "127.0.0.1", "bearer")
        item, _ = library.create_text_item(s, actor, world.a, TextItemCreate(title="Thử", text="Xin chào bà con"),
                                           clock())
        library.apply_render(s, item.id, item.render_generation, None, clock(),
                             error="Không có giọng đọc đã chọn / The chosen voice does not exist",
                             error_code="no_voice")
        return item.id


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2():
    """Real argon2id (salted, verified by the same code), with test-sized cost: the world fixture hashes six
    passwords per test. 64 KiB and one pass cost ~0.05 ms a hash, 8 MiB cost ~4.5 ms (~30 CPU-s over the
    suite); no test measures the cost itself. The timing equaliser (the hash an unknown user's login is
    checked against) gets the same cost, as in production: with the default cost it took ~190 CPU-ms a
    login."""
    from argon2 import PasswordHasher

    from loa.accounts import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    yield
    passwords._hasher = original
