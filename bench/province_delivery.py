"""The delivery figures of bench/province_bulletin.py (issue 16, interchange16): a priority bulletin from the
province station to 1,000 communes × 10 loudspeakers held by another station, over the interchange.

What runs: two real `loa serve` processes on loopback, each with its own SQLite database and data directory,
worker and scheduler inside, exactly as deployed. The **province station** holds province Lào Cai, its 1,000
communes (codes only: their loudspeakers are elsewhere), an editor and an approver, and a real mastered
recording. The **commune station** is one installation holding the 1,000 communes with 10 loudspeakers each
(10,000 devices, no quiet hours), registered at the province as one lower peer for all 1,000 codes; each
side pinned the other's key. t0 is the approver's POST /api/v1/bulletins/{id}/send; then, polling the commune
station's database every 50 ms:

- `province_bulletin_all_communes_s`: t0 → every one of the 1,000 communes has the bulletin in its inbox (the
  outbox's job picked it up, the signed message went over HTTP, the commune station checked the signature,
  fetched the audio by hash from the province and verified it, and `service.receive` placed the priority
  bulletin into each commune's next programme) — target < 30 s;
- `province_bulletin_all_loudspeakers_s`: t0 → every one of the 10,000 loudspeakers holds it in its stored
  72-hour timetable (re-materialized per commune after the receipt) — the rows each device's signed manifest is
  built from on its next sync; the agents' own fetch of manifest and audio is bench/fanout.py's figure.

Why this is representative, and where it is not: the province side (signing, the outbox job, serving the audio)
and the commune side (verification, audio check, 1,000 inbox items, 1,000 schedules, 10,000 loudspeakers'
timetables) run their real code paths over real HTTP; both processes share this machine's 2 cores, as they
would not in the field. 1,000 communes on separate stations would be 1,000 signed messages and 1,000 audio
downloads instead of one of each, each station doing 1/1,000 of the receiving work on its own hardware: the
per-message cost is printed as `interchange_message_roundtrip_s`: the approver's send of a bulletin to one
commune, with audio that station does not hold yet, until the province has the commune station's signed receipt
(outbox job pickup, signing, POST, verification, the audio download and check, `service.receive`, the receipt
checked), median of 10 one after the other. The outbox delivers to 8 peers side by side, so 1,000 separate
stations take about 1,000 × that / 8 of the province's time when each answers like this one.
Baselines: the same bulletin delivered in one database (the province and the 1,000 communes on one station,
`service.send` with no remote route), and for the round trip one more bulletin to one commune held locally.

The machine is shared (2 cores, other work running): the figures move with its load; run it twice.
"""
from __future__ import annotations

import io
import os
import statistics
import signal
import subprocess
import sys
import tempfile
import time
import wave
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench shares the tests' helpers
from tests.ports import free_port  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PROVINCE, COMMUNES = "tinh-lao-cai", "tram-xa"
PASSWORD = "mat-khau-rat-dai"


def speech_facts(store_dir: Path, number: int = 3):
    """A real mastered recording of a few seconds (espeak-ng speech), stored in `store_dir`; `number` changes
    the words, so each number is a different file."""
    from content.pipeline import master_recording
    from content.store import AudioStore
    from content.tts.espeak import synthesize_pcm

    pcm = synthesize_pcm(f"Bà con chú ý. Bão số {number} sắp đổ bộ, hãy chằng chống nhà cửa và theo dõi loa của xã.",
                         "vi", 1.0)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.to_int16_bytes())
    src = store_dir.parent / "in.wav"
    src.write_bytes(buf.getvalue())
    facts = master_recording(src, AudioStore(store_dir))
    src.unlink()
    return facts


def seed_communes(engine, codes: list[str], devices_per_commune: int, now: datetime) -> int:
    """The communes, one village each, their loudspeakers enrolled and online, no quiet hours (bulk rows)."""
    from loa.org.models import Commune, Device, Province, Village
    from schedules.tables import StationSettingsRow

    with engine.begin() as conn:
        pid = conn.execute(sa.insert(Province.__table__).values(name="Lào Cai", code="LC", created_at=now)
                           .returning(Province.__table__.c.id)).scalar_one()
        conn.execute(sa.insert(Commune.__table__), [
            {"province_id": pid, "name": f"Xã {c}", "code": c, "timezone": "Asia/Ho_Chi_Minh", "created_at": now}
            for c in codes])
        ids = dict(conn.execute(sa.select(Commune.__table__.c.code, Commune.__table__.c.id)).all())
        if devices_per_commune:
            conn.execute(sa.insert(Village.__table__), [
                {"commune_id": ids[c], "name": "Thôn 1", "default_language": "vi", "created_at": now} for c in codes])
            villages = dict(conn.execute(sa.select(Village.__table__.c.commune_id, Village.__table__.c.id)).all())
            conn.execute(sa.insert(Device.__table__), [
                {"commune_id": ids[c], "village_id": villages[ids[c]], "name": f"Cụm {c}-{i + 1}", "status": "online",
                 "enrolled_at": now, "last_seen": now, "volume": 80, "muted": False, "created_at": now}
                for c in codes for i in range(devices_per_commune)])
            conn.execute(sa.insert(StationSettingsRow.__table__), [
                {"commune_id": ids[c], "quiet_start": "00:00", "quiet_end": "00:00", "updated_at": now}
                for c in codes])
    return pid


def more_bulletin(engine, facts, now: datetime, title: str) -> int:
    """Another approved bulletin by the same two people."""
    from sqlmodel import select

    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.db import session_scope
    from loa.org import areas
    from loa.org.models import Province
    from schedules.bulletins import compose

    with session_scope(engine) as s:
        editor = principal_for(s, s.exec(select(User).where(User.username == "tinh-soan")).one(), "127.0.0.1", "b")
        approver = principal_for(s, s.exec(select(User).where(User.username == "tinh-duyet")).one(), "127.0.0.1", "b")
        area = areas.get_area(s, "province", s.exec(select(Province.id)).first())
        row = compose.create_recording(s, editor, area, title, "vi", facts, now)
        compose.submit(s, editor, row.id, now)
        compose.approve(s, approver, row.id, facts.sha256, now)
        return row.id


def staff_and_bulletin(engine, province_id: int, facts, now: datetime) -> tuple[int, str]:
    """An editor and an approver of the province; a bulletin written by one, approved by the other."""
    from loa.accounts import auth
    from loa.accounts.auth import CLI
    from loa.accounts.models import User
    from loa.accounts.service import create_user, principal_for
    from loa.db import session_scope
    from loa.org import areas
    from schedules.bulletins import compose

    with session_scope(engine) as s:
        editor = create_user(s, CLI, "tinh-soan", PASSWORD, now)
        approver = create_user(s, CLI, "tinh-duyet", PASSWORD, now)
        areas.add_area_role(s, CLI, editor.id, "province", province_id, "editor", now)
        areas.add_area_role(s, CLI, approver.id, "province", province_id, "approver", now)
        area = areas.get_area(s, "province", province_id)
        who_e = principal_for(s, editor, "127.0.0.1", "bearer")
        who_a = principal_for(s, approver, "127.0.0.1", "bearer")
        row = compose.create_recording(s, who_e, area, "Phòng chống bão số 3", "vi", facts, now,
                                       transcript="Bà con chú ý phòng chống bão.")
        compose.submit(s, who_e, row.id, now)
        compose.approve(s, who_a, row.id, facts.sha256, now)
        _, secret = auth.issue_token(s, s.get(User, approver.id), auth.BEARER, now, timedelta(days=1), "bench")
        return row.id, secret


def serve(data_dir: Path, db_url: str, station_id: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LOA_DATABASE_URL": db_url, "LOA_INTERCHANGE_STATION_ID": station_id,
           "LOA_WORKER_POLL_SECONDS": "0.1", "LOA_TTS_ONLINE": "0", "LOA_PRINT_SETUP_TOKEN": "0",
           "LOA_INTERCHANGE_TIMEOUT_S": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "station.cli.main", "serve", "--port", str(port),
                             "--data-dir", str(data_dir)], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"loa serve exited: see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"loa serve did not answer on {port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(procs: list[subprocess.Popen], limit_s: float = 180.0) -> float:
    """Until both stations are idle (under 5 % CPU for a second): a station's start-up work (materializing
    1,000 communes) is not part of a bulletin's delivery. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = [cpu_seconds(p.pid) for p in procs]
        time.sleep(1.0)
        if all(cpu_seconds(p.pid) - b < 0.05 for p, b in zip(procs, before)):
            break
    return time.monotonic() - t0


def delivered(engine) -> bool:
    return attempts(engine)[0] == "delivered"


def attempts(engine) -> tuple[str | None, int]:
    """(status, attempts) of the first bulletin in the province's outbox: more than one attempt is a retry."""
    from broadcaster.interchange.models import OutboxMessage

    table = OutboxMessage.__table__
    with engine.connect() as conn:
        row = conn.execute(sa.select(table.c.status, table.c.attempts).where(table.c.kind == "bulletin")
                           .order_by(table.c.id).limit(1)).first()
    return (row[0], row[1]) if row else (None, 0)


def counts(engine, bulletin_id: str) -> tuple[int, int]:
    """(communes with the bulletin in their inbox, loudspeakers whose stored timetable holds its play)."""
    from schedules.bulletins.models import InboxItem
    from schedules.tables import TimetablePlay

    with engine.connect() as conn:
        inbox = conn.execute(sa.select(sa.func.count()).where(InboxItem.__table__.c.bulletin_id == bulletin_id)
                             ).scalar_one()
        keys = [f"s{sid}" for (sid,) in conn.execute(sa.select(InboxItem.__table__.c.schedule_id).where(
            InboxItem.__table__.c.bulletin_id == bulletin_id, InboxItem.__table__.c.schedule_id.is_not(None)))]
        devices = 0
        for i in range(0, len(keys), 500):
            devices += conn.execute(sa.select(sa.func.count(sa.distinct(TimetablePlay.__table__.c.device_id))).where(
                TimetablePlay.__table__.c.rule_key.in_(keys[i:i + 500]))).scalar_one()
        return inbox, devices


def register_pair(p_engine, p_settings, p_url: str, c_engine, c_settings, c_url: str, codes: list[str],
                  now: datetime) -> None:
    from broadcaster.interchange import identity, peers
    from loa.accounts.auth import CLI
    from loa.db import session_scope

    up = identity.load(p_settings, p_engine).public_info()
    low = identity.load(c_settings, c_engine).public_info()
    with session_scope(c_engine) as s:
        peers.register(s, CLI, station_id=PROVINCE, name="Đài tỉnh", role="upper", base_url=p_url,
                       public_key=up["public_key"], now=now)
    with session_scope(p_engine) as s:
        peers.register(s, CLI, station_id=COMMUNES, name="Trạm xã", role="lower", base_url=c_url,
                       public_key=low["public_key"], now=now, communes=codes)


def one_commune_roundtrips(p_engine, p_settings, p_url: str, token: str, commune_id: int, rounds: int) -> list[float]:
    """`rounds` normal bulletins, one at a time, each to one commune and with audio the commune station does not
    have: approver's send → the province holds the commune station's signed receipt. What one of 1,000 separate
    commune stations costs the province and the link (the download included)."""
    from broadcaster.interchange.models import OutboxMessage

    out = []
    for i in range(rounds):
        facts = speech_facts(p_settings.audio_dir, 10 + i)
        bulletin = more_bulletin(p_engine, facts, datetime.now(TZ), f"Bản tin thử {i}")
        t0 = time.perf_counter()
        httpx.post(f"{p_url}/api/v1/bulletins/{bulletin}/send", timeout=120, headers={"Authorization": f"Bearer {token}"},
                   json={"level": "normal", "expires_at": (datetime.now(TZ) + timedelta(hours=24)).isoformat(),
                         "communes": [commune_id]}).raise_for_status()
        while True:
            with p_engine.connect() as conn:
                status = conn.execute(sa.select(OutboxMessage.__table__.c.status).where(
                    OutboxMessage.__table__.c.object_id == str(bulletin))).scalar_one_or_none()
            if status == "delivered" or time.perf_counter() - t0 > 60:
                break
            time.sleep(0.01)
        out.append(time.perf_counter() - t0)
    return out


def over_interchange(tmp: Path, communes: int, devices: int, timeout_s: float, rounds: int = 10) -> dict:
    from loa.db import make_engine, upgrade
    from loa.settings import Settings

    now = datetime.now(TZ)
    codes = [f"C{i + 1}" for i in range(communes)]
    p_dir, c_dir = tmp / "province", tmp / "communes"
    p_settings = Settings(data_dir=p_dir, interchange_station_id=PROVINCE)
    c_settings = Settings(data_dir=c_dir, interchange_station_id=COMMUNES)
    p_engine, c_engine = make_engine(p_settings.db_url), make_engine(c_settings.db_url)
    upgrade(p_engine)
    upgrade(c_engine)
    facts = speech_facts(p_settings.audio_dir)
    province_id = seed_communes(p_engine, codes, 0, now)
    seed_communes(c_engine, codes, devices, now)
    bulletin, token = staff_and_bulletin(p_engine, province_id, facts, now)
    p_port, c_port = free_port(), free_port()
    p_url, c_url = f"http://127.0.0.1:{p_port}", f"http://127.0.0.1:{c_port}"
    register_pair(p_engine, p_settings, p_url, c_engine, c_settings, c_url, codes, now)
    with p_engine.connect() as conn:
        from loa.org.models import Commune

        commune_ids = [r[0] for r in conn.execute(sa.select(Commune.__table__.c.id))]
    logs = Path(os.environ.get("LOA_BENCH_LOGS") or tmp)  # the stations' logs (kept if LOA_BENCH_LOGS names a folder)
    logs.mkdir(parents=True, exist_ok=True)
    procs = [serve(p_dir, p_settings.db_url, PROVINCE, p_port, logs / "province.log"),
             serve(c_dir, c_settings.db_url, COMMUNES, c_port, logs / "communes.log")]
    try:
        idle_s = wait_idle(procs)
        t0 = time.perf_counter()
        reply = httpx.post(f"{p_url}/api/v1/bulletins/{bulletin}/send", timeout=120,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"level": "priority", "expires_at": (datetime.now(TZ) + timedelta(hours=24)).isoformat(),
                                 "communes": commune_ids})
        reply.raise_for_status()
        sent_s = time.perf_counter() - t0
        t_communes = t_devices = t_receipt = None
        while time.perf_counter() - t0 < timeout_s and t_devices is None:
            if t_receipt is None and delivered(p_engine):
                t_receipt = time.perf_counter() - t0
            have, held = counts(c_engine, str(bulletin))
            if t_communes is None and have >= communes:
                t_communes = time.perf_counter() - t0
            if held >= communes * devices:
                t_devices = time.perf_counter() - t0
            time.sleep(0.05)
        have, held = counts(c_engine, str(bulletin))
        tries = attempts(p_engine)[1]
        roundtrips = one_commune_roundtrips(p_engine, p_settings, p_url, token, commune_ids[0], rounds)
        return {"roundtrips": roundtrips, "attempts": tries, "communes_s": t_communes, "devices_s": t_devices, "send_request_s": sent_s, "inbox": have,
                "held": held, "receipt_s": t_receipt, "idle_wait_s": idle_s}
    finally:
        for proc in procs:
            stop(proc)
        p_engine.dispose()
        c_engine.dispose()


def local_baseline(tmp: Path, communes: int, devices: int) -> dict:
    """The same bulletin to the same communes held in the province's own database (no interchange): service.send,
    then after_commit (each commune's timetable re-materialized), in one process."""
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from loa.db import make_engine, session_scope, upgrade
    from loa.org.models import Commune
    from schedules.bulletins import service
    from schedules.bulletins.schemas import SendIn
    from schedules.service import ScheduleService
    from sqlmodel import select

    now = datetime.now(TZ)
    codes = [f"C{i + 1}" for i in range(communes)]
    engine = make_engine(f"sqlite:///{tmp / 'local.db'}")
    upgrade(engine)
    facts = speech_facts(tmp / "local-audio")
    province_id = seed_communes(engine, codes, devices, now)
    bulletin, _ = staff_and_bulletin(engine, province_id, facts, now)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(Commune.__table__.c.id))]
    schedules = ScheduleService(engine, timedelta(hours=72))
    try:
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            approver = s.exec(select(User).where(User.username == "tinh-duyet")).first()
            actor = principal_for(s, approver, "127.0.0.1", "bearer")
            sent = service.send(s, actor, bulletin, SendIn(level="priority", expires_at=now + timedelta(hours=24),
                                                          communes=ids), now)
        t_communes = time.perf_counter() - t0
        service.after_commit(schedules, sent.local, now)
        t_devices = time.perf_counter() - t0
        have, held = counts(engine, str(bulletin))
        assert have == communes and held == communes * devices, (have, held)
        one = []
        for i in range(5):
            other = more_bulletin(engine, facts, now, f"Bản tin thử {i}")
            t1 = time.perf_counter()
            with session_scope(engine) as s:
                actor = principal_for(s, s.exec(select(User).where(User.username == "tinh-duyet")).first(),
                                      "127.0.0.1", "bearer")
                sent = service.send(s, actor, other, SendIn(level="normal", expires_at=now + timedelta(hours=24),
                                                            communes=ids[:1]), now)
            one.append(time.perf_counter() - t1)
        return {"communes_s": t_communes, "devices_s": t_devices, "one_commune_s": statistics.median(one)}
    finally:
        engine.dispose()


def delivery_figure(engine, args, line) -> None:
    """bench/province_bulletin.py's `delivery` figure (its own databases: two stations need two)."""
    communes, devices = args.communes, getattr(args, "loudspeakers", 10)
    with tempfile.TemporaryDirectory() as tmp:
        base = local_baseline(Path(tmp), communes, devices)
    with tempfile.TemporaryDirectory() as tmp:
        out = over_interchange(Path(tmp), communes, devices, timeout_s=getattr(args, "delivery_timeout", 300))
    common = {"communes": communes, "loudspeakers_per_commune": devices, "database": "sqlite",
              "stations": "2 loa serve processes (province; one station holding every commune)"}
    line("province_bulletin_all_communes_s", out["communes_s"] if out["communes_s"] is not None else float("nan"),
         "s", "< 30", {"name": "same bulletin, same communes, one database (no interchange)",
                       "value": round(base["communes_s"], 3)}, inbox=out["inbox"], send_request_s=round(out["send_request_s"], 3),
         receipt_at_province_s=round(out["receipt_s"], 3) if out["receipt_s"] is not None else None,
         outbox_attempts=out["attempts"], load_average_1min=round(os.getloadavg()[0], 1), **common)
    trips = sorted(out["roundtrips"])
    line("interchange_message_roundtrip_s", statistics.median(trips), "s", "",
         {"name": "the same bulletin to a commune held by the province's own database",
          "value": round(base["one_commune_s"], 3)},
         p90=round(trips[int(0.9 * (len(trips) - 1))], 3), rounds=len(trips),
         what="send → signed receipt at the province: one commune, its audio downloaded and checked")
    line("province_bulletin_all_loudspeakers_s", out["devices_s"] if out["devices_s"] is not None else float("nan"),
         "s", "", {"name": "same bulletin, same communes, one database (no interchange)",
                   "value": round(base["devices_s"], 3)}, timetables_holding=out["held"], **common)
