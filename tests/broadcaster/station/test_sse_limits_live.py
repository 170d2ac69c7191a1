"""SSE streams of a real station over real HTTP (uvicorn, SQLite and PostgreSQL): a revoked device's streams
end at once, in this process and when another replica revoked it (within the identity re-check interval);
no ping follows; a device holds at most `device_max_streams` streams (a new one closes the oldest)."""
from __future__ import annotations

import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from api.devices.station import station_of
from tests.broadcaster.station.device_rig import DEV, INFO, dh, enroll_by_code
from tests.broadcaster.station.live import clock, start_station, wait_until  # noqa: F401  (fixture clock)

PING_S = 0.2


@pytest.fixture
def live(settings, clock, engine):
    station = start_station(settings, clock)
    station_of(station.app).sse_ping_s = PING_S
    yield station
    station.stop()


class Stream:
    """One SSE connection read on its own thread: every line with the time it arrived, and when it ended."""

    def __init__(self, url: str, creds: dict) -> None:
        self.lines: list[tuple[float, str]] = []
        self.status: int | None = None
        self.ended: float | None = None
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=30))
        self._thread = threading.Thread(target=self._run, args=(creds,), daemon=True)
        self._thread.start()

    def _run(self, creds) -> None:
        try:
            with self._client.stream("GET", f"{DEV}/events", headers=dh(creds)) as r:
                self.status = r.status_code
                for line in r.iter_lines():
                    self.lines.append((time.monotonic(), line))
        except httpx.HTTPError:
            pass
        finally:
            self.ended = time.monotonic()

    def synced(self) -> bool:
        return any(line.startswith("event: sync") for _, line in self.lines)

    def pings(self) -> int:
        return sum(1 for _, line in self.lines if line == ": ping")

    def close(self) -> None:
        self._client.close()
        self._thread.join(5)


def _open(live, creds, n=1) -> list[Stream]:
    streams = []
    for _ in range(n):  # one after the other: the opening order is the one the bound goes by
        s = Stream(live.url, creds)
        assert wait_until(s.synced, 10), (s.status, s.lines)
        streams.append(s)
    return streams


def _cadre(live, world):
    return httpx.Client(base_url=live.url, headers=world.h("cadre"), timeout=30)


def test_revocation_here_ends_the_streams_at_once_and_no_ping_follows(live, world):
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
        streams = _open(live, creds, 2)
        assert wait_until(lambda: all(s.pings() >= 2 for s in streams), 5)
        hub = live.app.state.sse_hub
        assert hub.connected(device_id) == 2
        assert cadre.post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
        revoked_at = time.monotonic()  # once the revocation is done: the POST's own time is not the streams'
    assert wait_until(lambda: all(s.ended for s in streams), 2)
    # at once, not at the next identity re-check (the streams may even end before the answer arrives)
    assert max(s.ended for s in streams) - revoked_at < 0.5
    assert wait_until(lambda: hub.connected(device_id) == 0, 2)
    time.sleep(3 * PING_S)
    for s in streams:
        assert all(t <= s.ended for t, _ in s.lines)  # nothing after the end
        s.close()
    with httpx.Client(base_url=live.url, timeout=10) as c:
        r = c.get(f"{DEV}/events", headers=dh(creds))
        assert r.status_code == 401 and r.json()["code"] == "device_revoked"


def test_revocation_by_another_replica_ends_the_streams_within_the_recheck_interval(live, world, engine, clock):
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
    streams = _open(live, creds, 2)
    # another replica revokes: it writes the database; this process learns it only from there
    from broadcaster.station.models import DeviceCredential
    from loa.org.models import Device

    with engine.begin() as conn:
        conn.execute(sa.update(DeviceCredential.__table__).where(DeviceCredential.__table__.c.device_id == device_id)
                     .values(revoked_at=clock()))
        conn.execute(sa.update(Device.__table__).where(Device.__table__.c.id == device_id)
                     .values(revoked_at=clock(), status="revoked"))
    revoked_at = time.monotonic()
    assert wait_until(lambda: all(s.ended for s in streams), 3)
    recheck = live.app.state.identities.recheck_s
    # within the re-check interval, with a second for a busy machine (without the re-check they never end)
    assert max(s.ended for s in streams) - revoked_at < recheck + 1.0
    pings_at_end = [s.pings() for s in streams]
    time.sleep(3 * PING_S)
    assert [s.pings() for s in streams] == pings_at_end
    for s in streams:
        s.close()


def test_reenrolling_a_box_ends_the_streams_of_its_old_identity(live, world):
    with _cadre(live, world) as cadre:
        device_id, old = enroll_by_code(cadre, world)
        streams = _open(live, old, 1)
        code = cadre.post(f"/api/v1/devices/{device_id}/enrollment-code").json()["code"]
    with httpx.Client(base_url=live.url, timeout=30) as c:
        new = c.post(f"{DEV}/enroll/claim", json={"code": code, **INFO}).json()
    assert wait_until(lambda: streams[0].ended, 2)
    fresh = _open(live, new, 1)  # the new identity streams as usual
    assert wait_until(lambda: fresh[0].pings() >= 1, 5) and fresh[0].ended is None
    for s in streams + fresh:
        s.close()


def test_a_device_holds_at_most_three_streams_the_oldest_is_closed(live, world):
    with _cadre(live, world) as cadre:
        device_id, creds = enroll_by_code(cadre, world)
        _, other = enroll_by_code(cadre, world, name="Cụm khác")
    hub = live.app.state.sse_hub
    assert hub.max_per_device == live.app.state.settings.device_max_streams == 3
    theirs = _open(live, other, 2)  # another device's streams are not this device's budget
    streams = []
    for _ in range(12):  # one token opening stream after stream
        streams += _open(live, creds, 1)
        assert wait_until(lambda opened=streams: sum(1 for s in opened if s.ended is None) <= 3, 2)
        assert hub.connected(device_id) <= 3
    assert [s.ended is None for s in streams] == [False] * 9 + [True] * 3
    assert all(s.ended is None for s in theirs)
    pings = [s.pings() for s in streams[-3:]]
    assert wait_until(lambda: all(s.pings() > p for s, p in zip(streams[-3:], pings)), 5)  # the newest live on
    for s in streams + theirs:
        s.close()
