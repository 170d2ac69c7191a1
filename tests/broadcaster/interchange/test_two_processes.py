"""The province station and the commune station as two `loa serve` processes (real uvicorn, each its own SQLite
database and data directory, its job worker and scheduler inside), talking only over HTTP.

The province's approver sends a priority bulletin through the bulletin API; it reaches the commune with its
audio and every loudspeaker's timetable; "scheduled" comes back up. Then the commune station is killed: a second
bulletin waits in the province's outbox, retried with backoff (LOA_INTERCHANGE_RETRY_MAX_S is 2 s here, so the
"hours" of a real outage are seconds: the bound, not the wall time, is what is tested; the hours themselves are
in test_exchange.py on a fixed clock); the commune comes back and gets it once. Then the province is killed: the
commune's refusal of it waits in the commune's outbox and goes up when the province is back. An unsigned and a
tampered bulletin sent straight to the commune are refused and in its audit log."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from broadcaster.interchange import envelope, schemas
from broadcaster.interchange.outbox import MESSAGES_PATH
from loa.db import session_scope
from tests.broadcaster.interchange import stations
from tests.station.ops.proc import stop, wait_port
from tests.ports import free_port
from tests.station_rig import (  # noqa: F401  (real audio, cheap argon2 for the seeded accounts)
    TZ, _cheap_argon2, mastered, wav_bytes,
)

FAST = {"LOA_INTERCHANGE_RETRY_BASE_S": "0.25", "LOA_INTERCHANGE_RETRY_MAX_S": "2", "LOA_INTERCHANGE_POLL_S": "0.5",
        "LOA_WORKER_POLL_SECONDS": "0.1", "LOA_TTS_ONLINE": "0", "LOA_PRINT_SETUP_TOKEN": "0"}


class Proc:
    def __init__(self, st: stations.Station, port: int, log: Path) -> None:
        self.st, self.port, self.log, self.proc = st, port, log, None

    def start(self) -> None:
        env = {**os.environ, **FAST, "LOA_INTERCHANGE_STATION_ID": self.st.station_id}
        env.pop("LOA_DATABASE_URL", None)  # the SQLite file in its data directory
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station.cli.main", "serve", "--port", str(self.port),
             "--data-dir", str(self.st.settings.data_dir)],
            env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_port(self.port, 60, self.proc)

    def kill(self) -> None:
        stop(self.proc, signal.SIGKILL)  # a crash, not a goodbye: nothing is flushed for it


def until(cond, seconds: float = 20.0, what: str = ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def _token(st: stations.Station, username: str, now: datetime, commune_role: str | None = None) -> str:
    from loa.accounts import auth
    from loa.accounts.auth import CLI
    from loa.accounts.models import User
    from loa.accounts.service import add_membership, create_user

    with session_scope(st.engine) as s:
        user = s.exec(select(User).where(User.username == username)).first()
        if user is None:
            user = create_user(s, CLI, username, stations.PASSWORD, now)
            add_membership(s, CLI, user.id, st.ids["communes"][0], commune_role, now)
        _, secret = auth.issue_token(s, user, auth.BEARER, now, timedelta(days=1), "test")
        return secret


def _delivery(st: stations.Station, bulletin: int):
    from schedules.bulletins.models import BulletinDelivery

    with session_scope(st.engine) as s:
        row = s.exec(select(BulletinDelivery).where(BulletinDelivery.bulletin_id == bulletin)).first()
        return (row.state, row.detail) if row else None


def _refusal_codes(st: stations.Station) -> list[str]:
    from loa.audit.models import AuditEntry

    with session_scope(st.engine) as s:
        return [e.detail["code"] for e in s.exec(select(AuditEntry).where(AuditEntry.action == "interchange.refused"))]


@pytest.mark.slow
def test_two_station_processes_exchange_and_survive_either_side_down(tmp_path, mastered):
    store_root, facts = mastered
    now = datetime.now(TZ)
    ports = {"p": free_port(), "c": free_port()}
    p = stations.open_station(tmp_path / "p", None, stations.PROVINCE)
    c = stations.open_station(tmp_path / "c", None, stations.COMMUNE)
    p.url, c.url = f"http://127.0.0.1:{ports['p']}", f"http://127.0.0.1:{ports['c']}"
    stations.seed_province(p, now, ["CS"])
    devices = stations.seed_commune(c, now, "CS")
    stations.put_audio(p, store_root)
    stations.register(p, c, now, ["CS"])
    approver = _token(p, "tinh-duyet", now)
    cadre = _token(c, "can-bo-xa", now, "cadre")
    procs = {"p": Proc(p, ports["p"], tmp_path / "p.log"), "c": Proc(c, ports["c"], tmp_path / "c.log")}
    try:
        for proc in procs.values():
            proc.start()

        def send(level: str) -> int:
            bulletin = stations.approved_bulletin(p, facts, datetime.now(TZ), title=f"Bản tin {level}")
            reply = httpx.post(f"{p.url}/api/v1/bulletins/{bulletin}/send", timeout=30,
                               headers={"Authorization": f"Bearer {approver}"},
                               json={"level": level, "expires_at": (datetime.now(TZ) + timedelta(hours=24)).isoformat(),
                                     "communes": p.ids["communes"]})
            assert reply.status_code == 200, reply.text
            return bulletin

        # 1. down: a priority bulletin, its audio, every loudspeaker's timetable; "scheduled" comes back up
        first = send("priority")
        item = until(lambda: [i for i in stations.inbox(c) if i.bulletin_id == str(first)], what="first bulletin")[0]
        assert (item.level, item.state) == ("priority", "scheduled")
        from schedules.tables import TimetablePlay

        def planned() -> set[int]:
            with session_scope(c.engine) as s:
                return set(s.exec(select(TimetablePlay.device_id).where(
                    TimetablePlay.rule_key == f"s{item.schedule_id}")))
        until(lambda: planned() == set(devices), what="every loudspeaker's timetable")
        until(lambda: (_delivery(p, first) or ("",))[0] == "scheduled", what="status up")

        # 2. the commune station crashes; the next bulletin waits, retried with a bounded backoff
        procs["c"].kill()
        second = send("normal")
        until(lambda: stations.peer(p, stations.COMMUNE).failures >= 3, what="retries while the commune is down")
        down = stations.peer(p, stations.COMMUNE)
        assert down.next_attempt_at - datetime.now(TZ) <= timedelta(seconds=2.5)
        assert [r.status for r in stations.outbox_rows(p) if r.object_id == str(second)] == ["pending"]
        procs["c"].start()
        until(lambda: [i for i in stations.inbox(c) if i.bulletin_id == str(second)], what="delivered after restart")
        until(lambda: stations.peer(p, stations.COMMUNE).failures == 0, what="backoff reset")
        assert [i.bulletin_id for i in stations.inbox(c)].count(str(second)) == 1

        # 3. the province station crashes; the commune refuses the bulletin; the refusal goes up when it is back
        until(lambda: (_delivery(p, second) or ("",))[0] == "received", what="second bulletin's status")
        procs["p"].kill()
        second_item = [i for i in stations.inbox(c) if i.bulletin_id == str(second)][0]
        reply = httpx.post(f"{c.url}/api/v1/bulletin-inbox/{second_item.id}/refuse", timeout=30,
                           headers={"Authorization": f"Bearer {cadre}"}, json={"reason": "Xã đang có lễ hội"})
        assert reply.status_code == 200, reply.text
        until(lambda: stations.peer(c, stations.PROVINCE).failures >= 2, what="status waiting at the commune")
        procs["p"].start()
        until(lambda: _delivery(p, second) == ("refused", "Xã đang có lễ hội"), what="refusal up after restart")

        # 4. an unsigned and a tampered bulletin, straight to the commune: refused, logged, nothing received
        row = [r for r in stations.outbox_rows(p) if r.object_id == str(first)][0]
        header = schemas.Header(schemas.BULLETIN, stations.PROVINCE, stations.COMMUNE, datetime.now(TZ))
        body = {**row.body, **header.to_dict(), "version": 9, "origin": {**row.body["origin"], "station": p.station_id}}
        unsigned = httpx.post(c.url + MESSAGES_PATH, json={"message": body}, timeout=30)
        tampered = envelope.sign(body, p.me.key())
        tampered["message"]["title"] = "Tin giả"
        forged = httpx.post(c.url + MESSAGES_PATH, json=tampered, timeout=30)
        assert [(r.status_code, r.json()["code"]) for r in (unsigned, forged)] == [
            (401, "interchange_unsigned"), (401, "interchange_signature_invalid")]
        assert {"interchange_unsigned", "interchange_signature_invalid"} <= set(_refusal_codes(c))
        assert sorted({i.version for i in stations.inbox(c)}) == [1]
        # exactly once in effect, across two crashes
        assert sorted(i.bulletin_id for i in stations.inbox(c)) == sorted([str(first), str(second)])
    finally:
        for proc in procs.values():
            proc.kill()
        p.engine.dispose()
        c.engine.dispose()
