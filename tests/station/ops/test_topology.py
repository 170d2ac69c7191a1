"""The scale-out topology on loopback (tests/station/ops/topology.py): 2 API processes behind Caddy, the scheduler
process, a worker process, a fresh PostgreSQL database, Mosquitto, and real agents (Fleet, in this process).

Every device plays the scheduled item exactly once, and the proof of play in the database has every planned
play once and nothing twice — while one API process is killed (SIGKILL) in the middle of the first sync, the
scheduler is killed and restarted, and the other API process is killed in the middle of the uploads.
Agents run on a virtual clock for the playing part only (the plays are 10 minutes ahead; nobody waits).

LOA_TOPOLOGY_AGENTS sets the number of agents (default 1000; bench/province.py runs 10,000)."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest

from broadcaster.agent.simulation import Faults, Fleet
from tests.station.ops.proc import caddy_exe
from tests.station.ops.topology import (
    Topology, add_rule, approved_text_item, build_world, create_database, drop_database, follow_real_time,
    parallel_round, scalar, wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.mqtt]
AGENTS = int(os.environ.get("LOA_TOPOLOGY_AGENTS", "1000"))


@pytest.fixture
def topo(tmp_path):
    caddy_exe()  # no Caddy: skip (fail in CI) before building a province of agents
    db_url = create_database()
    t = Topology(db_url, tmp_path / "data", tmp_path / "logs")
    yield t
    t.close()
    drop_database(db_url)


def _once(fn, at: int):
    fired = threading.Event()

    def during(done: int) -> None:
        if done >= at and not fired.is_set():
            fired.set()
            fn()
    return during


def test_every_play_once_through_failures(tmp_path, topo):
    now = datetime.now(timezone.utc)
    world = build_world(topo.db_url, topo.data_dir, AGENTS, max(1, AGENTS // 10), now, topo.mqtt_url)
    topo.start()
    item = approved_text_item(topo.url, world, "Thông báo lịch tiêm chủng cho trẻ em dưới năm tuổi.", "Tiêm chủng")
    play_at = now.replace(microsecond=0) + timedelta(minutes=10)
    rule = add_rule(topo.db_url, world.commune, item["id"], play_at, "Bản tin")
    topo.restart_scheduler()  # a scheduler start materializes at once
    q = "SELECT count(*) FROM timetable_plays WHERE rule_key = :k"
    wait_for(lambda: scalar(topo.db_url, q, k=f"s{rule}") == AGENTS, 90, what="materialized by the scheduler")
    versions = scalar(topo.db_url, "SELECT string_agg(version, ',' ORDER BY device_id) FROM device_timetables")

    fleet = Fleet(tmp_path / "agents", topo.url, world.creds, now, faults=Faults())
    try:
        follow_real_time(fleet)
        # first sync; API 1 dies (SIGKILL) half way: Caddy sends everything to API 2
        parallel_round(fleet, during=_once(lambda: topo.kill_api(0), AGENTS // 2))
        for _ in range(5):
            behind = [a for a in fleet.agents if a.manifest is None or a.store.missing(a.manifest.sizes())]
            if not behind:
                break
            parallel_round(fleet, behind)
        assert not behind, f"{len(behind)} agents without manifest or audio"
        # the scheduler is killed and started again: it recomputes the same timetables, no duplicate plays.
        # Every timetable computed after the kill (a run's rows carry the instant it started): the restart's own
        # run. Measured from "now − 1 s" at each poll instead, the wait held only if a whole run landed within
        # one second of a poll, so it waited for a later periodic run (~55 s) or timed out under load.
        killed_at = datetime.now(timezone.utc)
        topo.restart_scheduler(hard=True)
        topo.start_api(0)
        wait_for(lambda: scalar(topo.db_url, "SELECT count(*) FROM device_timetables WHERE computed_at > :t",
                                t=killed_at) >= AGENTS, 90, what="re-materialized after the restart")
        assert scalar(topo.db_url, q, k=f"s{rule}") == AGENTS
        assert scalar(topo.db_url, "SELECT string_agg(version, ',' ORDER BY device_id) FROM device_timetables") \
            == versions
        # the virtual clock runs past the play
        duration = item["audio"]["duration_s"] if item.get("audio") else 10
        fleet.run_until(play_at + timedelta(seconds=float(duration) + 30))
        for agent in fleet.agents:
            records = agent.playlog.records()
            assert [r["result"] for r in records] == ["played"], (agent.creds["device_id"], records)
        # uploads; API 2 dies half way (API 1 is back): replies lost mid-flight are resent, stored once
        parallel_round(fleet, heartbeat=False, during=_once(lambda: topo.kill_api(1), AGENTS // 2))
        for _ in range(5):
            behind = [a for a in fleet.agents if a.playlog.acked_seq < a.playlog.last_seq]
            if not behind:
                break
            parallel_round(fleet, behind, heartbeat=False)
        assert not behind, f"{len(behind)} agents with unacknowledged plays"
    finally:
        fleet.close()
    rows = scalar(topo.db_url, "SELECT count(*) FROM device_plays")
    distinct = scalar(topo.db_url, "SELECT count(DISTINCT (uid, play_id)) FROM device_plays")
    played_devices = scalar(topo.db_url, "SELECT count(DISTINCT device_id) FROM device_plays WHERE result = 'played'")
    planned_devices = scalar(topo.db_url, "SELECT count(DISTINCT device_id) FROM timetable_plays WHERE rule_key = :k",
                             k=f"s{rule}")
    assert rows == distinct == played_devices == planned_devices == AGENTS
    assert scalar(topo.db_url, "SELECT count(*) FROM device_plays WHERE planned_start <> :t", t=play_at) == 0
