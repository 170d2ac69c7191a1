"""Device endpoints under real concurrency: threads firing at the same instant at a real uvicorn station, on
SQLite and PostgreSQL. No 5xx, nothing stored twice, and no field of a lean heartbeat lost (§6)."""
from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import sqlalchemy as sa

from tests.broadcaster.station.device_rig import DEV, INFO, dh, enroll_by_code
from tests.broadcaster.station.live import clock, live  # noqa: F401  (fixtures)

N = 10


def at_once(live, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
    """Each call on its own thread and connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    out: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        with httpx.Client(base_url=live.url, timeout=60) as c:
            c.get("/api/v1/health")  # connect first: the barrier then releases requests, not handshakes
            barrier.wait()
            try:
                out[i] = calls[i](c)
            except BaseException as exc:  # noqa: BLE001 — reported below
                out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in out:
        if not isinstance(r, httpx.Response):
            raise AssertionError(f"a request failed: {r!r}")
    return out  # type: ignore[return-value]


def _cadre(live, world):
    return httpx.Client(base_url=live.url, headers=world.h("cadre"), timeout=30)


def _statuses(responses) -> list[int]:
    return sorted(r.status_code for r in responses)


# Ten lean first heartbeats of a newly enrolled device, each carrying a different field: after them the report
# must hold every one of the ten values, whatever order the station applied them in.
FIELDS = [
    ("clock_offset_s", 2.5),
    ("playing", {"play_id": "p-1", "sha256": None, "title": "Bản tin", "priority": "normal",
                 "started_at": "2026-03-02T01:00:00Z"}),
    ("cache", {"used_bytes": 10, "limit_bytes": 100, "files": 3, "missing": []}),
    ("disk_free_bytes", 5_300_000_000),
    ("temperature_c", 48.5),
    ("uptime_s", 86400),
    ("local_volume", 70),
    ("hardware", "aarch64"),
    ("playlog", {"last_seq": 7, "acked_seq": 5}),
    ("agent_version", "0.9.9"),
]


def test_ten_heartbeats_at_once_no_5xx_and_no_field_lost(live, world, engine):
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)

    def beat(field, value):
        body = {"sent_at": "2026-03-02T01:00:00.000Z", "manifest_version": None, field: value}
        return lambda c: c.post(f"{DEV}/heartbeat", json=body, headers=dh(creds))

    responses = at_once(live, [beat(f, v) for f, v in FIELDS])
    assert _statuses(responses) == [204] * N, [r.text for r in responses if r.status_code != 204]
    from broadcaster.station.models import DeviceReport
    from loa.org.models import Device
    with engine.connect() as conn:
        report = conn.execute(sa.select(DeviceReport.__table__).where(
            DeviceReport.__table__.c.device_id == device_id)).mappings().one()
        device = conn.execute(sa.select(Device.__table__).where(Device.__table__.c.id == device_id)).mappings().one()
    for field, value in FIELDS:
        if field == "agent_version":
            assert device["agent_version"] == value
        else:
            assert report[field] == value, field
    assert report["uid"] == creds["device_id"]
    assert device["status"] == "playing"  # the beat that carried `playing` decides, whichever came last


def test_heartbeats_at_once_reporting_the_same_problem_open_one_alert(live, world, engine):
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    body = {"sent_at": "2026-03-02T01:00:00.000Z", "manifest_version": None}
    with httpx.Client(base_url=live.url, timeout=30) as c:  # the report exists: only the alert can race
        assert c.post(f"{DEV}/heartbeat", json=body, headers=dh(creds)).status_code == 204
    body["events"] = [{"at": "2026-03-02T00:59:00Z", "code": "disk_full", "detail": "0 bytes free"}]
    responses = at_once(live, [lambda c: c.post(f"{DEV}/heartbeat", json=body, headers=dh(creds))] * N)
    assert _statuses(responses) == [204] * N, [r.text for r in responses if r.status_code != 204]
    with _cadre(live, world) as cadre:
        alerts = cadre.get(f"/api/v1/communes/{world.a}/device-alerts").json()
    assert [(a["device_id"], a["kind"]) for a in alerts] == [(device_id, "disk_full")]


def _record(seq, result="played"):
    return {"seq": seq, "play_id": f"p-{seq}", "sha256": None, "title": f"Tin {seq}", "priority": "normal",
            "planned_start": "2026-03-02T01:00:00Z", "actual_start": "2026-03-02T01:00:00Z",
            "actual_end": "2026-03-02T01:01:00Z", "result": result, "reason": "sink_error:x" if result == "failed"
            else None}


def test_the_same_plays_batch_uploaded_at_once_is_stored_once(live, world, engine):
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    batch = {"records": [_record(s, "failed" if s == 3 else "played") for s in range(1, 6)]}
    responses = at_once(live, [lambda c: c.post(f"{DEV}/plays", json=batch, headers=dh(creds))] * N)
    assert _statuses(responses) == [200] * N, [r.text for r in responses if r.status_code != 200]
    assert {r.json()["acked_through"] for r in responses} <= {0, 1, 2, 3, 4, 5}
    # every reply acknowledges what it stored, and once all are in, the next upload sees all five
    with httpx.Client(base_url=live.url, timeout=30) as c:
        r = c.post(f"{DEV}/plays", json={"records": []}, headers=dh(creds))
        assert r.status_code == 200 and r.json()["acked_through"] == 5
    with _cadre(live, world) as cadre:
        rows = cadre.get(f"/api/v1/devices/{device_id}/plays").json()
        alerts = cadre.get(f"/api/v1/communes/{world.a}/device-alerts").json()
    assert sorted(r["seq"] for r in rows) == [1, 2, 3, 4, 5]
    assert [a["kind"] for a in alerts] == ["play_failed"]


def test_overlapping_plays_batches_at_once(live, world, engine):
    """Batches that overlap (a resend after a lost reply racing the next upload) store each seq once."""
    with _cadre(live, world) as cadre:
        _, creds = enroll_by_code(cadre, world)
    batches = [{"records": [_record(s) for s in range(1 + i, 8 + i)]} for i in range(N)]
    responses = at_once(live, [lambda c, b=b: c.post(f"{DEV}/plays", json=b, headers=dh(creds)) for b in batches])
    assert _statuses(responses) == [200] * N, [r.text for r in responses if r.status_code != 200]
    with httpx.Client(base_url=live.url, timeout=30) as c:
        assert c.post(f"{DEV}/plays", json={"records": []}, headers=dh(creds)).json()["acked_through"] == N + 7 - 1
    from broadcaster.station.models import PlayRecordRow
    with engine.connect() as conn:
        seqs = [s for (s,) in conn.execute(sa.select(PlayRecordRow.__table__.c.seq)
                                           .where(PlayRecordRow.__table__.c.uid == creds["device_id"]))]
    assert sorted(seqs) == list(range(1, N + 7))


def test_enroll_poll_racing_itself_and_confirm_issues_one_identity(live, world, engine):
    """A device's polls racing the cadre's confirmation and each other: no 5xx, exactly one poll gets
    credentials, and the device has exactly one live identity (the one that poll delivered)."""
    from broadcaster.station.models import DeviceCredential

    with httpx.Client(base_url=live.url, timeout=30) as c:
        started = c.post(f"{DEV}/enroll/start", json=INFO).json()
    poll = {"enrollment_id": started["enrollment_id"], "poll_secret": started["poll_secret"]}
    confirm = {"code": started["code"], "village_id": world.village_a, "name": "Loa Ún Tà"}
    calls = [lambda c: c.post(f"/api/v1/communes/{world.a}/enrollments/confirm", json=confirm,
                              headers=world.h("cadre"))] * 2
    calls += [lambda c: c.post(f"{DEV}/enroll/poll", json=poll)] * (N - 2)
    responses = at_once(live, calls)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    confirms = sorted(r.status_code for r in responses[:2])
    assert confirms == [201, 404]  # the second cadre's code is already used: no second device
    with httpx.Client(base_url=live.url, timeout=30) as c:
        for _ in range(3):  # then the device's next polls: credentials once, then 410
            r = c.post(f"{DEV}/enroll/poll", json=poll)
            responses.append(r)
    delivered = [r.json() for r in responses[2:] if r.status_code == 200]
    assert len(delivered) == 1, [r.status_code for r in responses[2:]]
    assert {r.status_code for r in responses[2:]} <= {200, 202, 410}
    with engine.connect() as conn:
        live_ids = [u for (u,) in conn.execute(sa.select(DeviceCredential.__table__.c.uid).where(
            DeviceCredential.__table__.c.revoked_at.is_(None)))]
    assert live_ids == [delivered[0]["device_id"]]


def test_one_cadre_code_claimed_at_once_gives_one_identity(live, world, engine):
    from broadcaster.station.models import DeviceCredential

    with _cadre(live, world) as cadre:
        device_id = cadre.post(f"/api/v1/communes/{world.a}/devices",
                               json={"name": "Loa", "village_id": world.village_a}).json()["id"]
        code = cadre.post(f"/api/v1/devices/{device_id}/enrollment-code").json()["code"]
    responses = at_once(live, [lambda c: c.post(f"{DEV}/enroll/claim", json={"code": code, **INFO})] * 4)
    assert _statuses(responses) == [200, 404, 404, 404], [r.text for r in responses]
    with engine.connect() as conn:
        live_ids = [u for (u,) in conn.execute(sa.select(DeviceCredential.__table__.c.uid).where(
            DeviceCredential.__table__.c.device_id == device_id, DeviceCredential.__table__.c.revoked_at.is_(None)))]
    assert live_ids == [next(r.json()["device_id"] for r in responses if r.status_code == 200)]


