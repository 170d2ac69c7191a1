import threading
import time as wall
from datetime import datetime, timedelta
from datetime import time as dtime

import pytest

from schedules.scheduler import JobPlan, StationScheduler
from schedules.timetable import materialize

from .helpers import ALL, TZ, at, commune, daily, item, prog, rule

FAST = JobPlan(materialize_s=0.2, render_s=0.2, expire_s=0.3, offline_s=0.25, misfire_grace_s=5)


def wait_for(cond, timeout=5.0):
    end = wall.monotonic() + timeout
    while wall.monotonic() < end:
        if cond():
            return True
        wall.sleep(0.02)
    return False


class FakeStore:
    """Stands for the database: materialized plays keyed by (device, rule, planned start)."""

    def __init__(self, rules, topo):
        self.rules, self.topo = rules, topo
        self.plays = {}
        self.writes = 0
        self.lock = threading.Lock()

    def materialize_all(self, now: datetime):
        tt = materialize(self.rules, self.topo, now, now + timedelta(hours=72), now)
        with self.lock:
            for plays in tt.values():
                for p in plays:
                    self.plays[p.key] = p  # upsert by key: running twice never duplicates
            self.writes += 1


def test_jobs_run_with_injected_clock_and_are_idempotent():
    virtual = at(2026, 11, 20, 6, 10)  # a restart in the middle of the 06:00 slot
    ticks = iter(range(10**6))

    def clock():  # a virtual clock that advances one minute per reading
        return virtual + timedelta(minutes=next(ticks))
    store = FakeStore([rule("vneid", daily(at(2026, 11, 1), dtime(6)), ALL,
                            prog(item("v", 1800)))], commune(2, 2))
    calls = {k: [] for k in ("render", "expire", "offline", "nightly")}
    sched = StationScheduler(
        materialize_all=store.materialize_all,
        render_pending=lambda now: calls["render"].append(now),
        expire_content=lambda now: calls["expire"].append(now),
        mark_offline=lambda now: calls["offline"].append(now),
        nightly_report=lambda now: calls["nightly"].append(now),
        clock=clock, plan=FAST)
    try:
        assert set(sched.jobs()) == set(StationScheduler.JOBS)
        sched.start()
        assert sched.running
        assert wait_for(lambda: store.writes >= 3 and all(len(v) >= 2 for k, v in calls.items() if k != "nightly"))
        assert calls["render"][0] > virtual and all(t.utcoffset() == timedelta(hours=7) for t in calls["render"])
        assert sched.stats["materialize"].last_now > virtual and sched.stats["materialize"].errors == 0
        # several runs with a moving now, same keys: 4 devices x (current 06:00 play + 3 more days)
        assert len(store.plays) == 4 * 4
        assert store.plays[("v1-d1", "vneid", at(2026, 11, 20, 6))].start == at(2026, 11, 20, 6)
        jobs = sched.jobs()
        assert all(j["coalesce"] and j["max_instances"] == 1 and j["misfire_grace_time"] == 5 for j in jobs.values())
        assert "cron" in jobs["nightly_report"]["trigger"] and "23" in jobs["nightly_report"]["trigger"]
        assert jobs["nightly_report"]["next_run_time"].utcoffset() == timedelta(hours=7)
    finally:
        sched.shutdown()
    assert not sched.running
    assert calls["nightly"] == []


def test_a_slow_job_never_overlaps_itself_and_errors_are_recorded():
    active, overlaps, runs = [0], [0], [0]
    lock = threading.Lock()

    def slow(now):
        with lock:
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        wall.sleep(0.5)  # longer than its 0.2 s interval
        with lock:
            active[0] -= 1
            runs[0] += 1

    def broken(now):
        raise RuntimeError("database unreachable")

    sched = StationScheduler(materialize_all=slow, render_pending=broken, expire_content=lambda n: None,
                             mark_offline=lambda n: None, nightly_report=lambda n: None,
                             clock=lambda: datetime.now(TZ), plan=FAST)
    import logging

    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    logging.getLogger("schedules.scheduler").setLevel(logging.CRITICAL)
    try:
        sched.start()
        assert wait_for(lambda: runs[0] >= 2 and sched.stats["render_pending"].errors >= 2, timeout=6)
    finally:
        sched.shutdown()
    assert overlaps[0] == 1
    assert "database unreachable" in sched.stats["render_pending"].last_error


def test_naive_clock_is_an_error_and_unknown_job_refused():
    seen = []
    sched = StationScheduler(materialize_all=seen.append, render_pending=seen.append, expire_content=seen.append,
                             mark_offline=seen.append, nightly_report=seen.append,
                             clock=lambda: datetime(2026, 11, 20, 6), plan=FAST)
    import logging

    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    logging.getLogger("schedules.scheduler").setLevel(logging.CRITICAL)
    try:
        sched.start()
        assert wait_for(lambda: sched.stats["materialize"].errors >= 1)
        with pytest.raises(KeyError):
            sched.run_soon("reboot_everything")
    finally:
        sched.shutdown()
    assert seen == [] and "naive" in sched.stats["materialize"].last_error
