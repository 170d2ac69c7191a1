"""Background jobs: real rendering by the worker, a worker killed mid-job (lease expiry → another worker resumes),
retries with exponential backoff, exactly-once claims under concurrency, the in-process worker thread."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

from content.library.models import ContentItem
from loa.db import session_scope
from loa.jobs import service as jobs
from loa.jobs.models import Job
from loa.jobs.worker import PermanentJobError, Worker
from station.handlers import default_handlers

TEXT = {"title": "Lịch tiêm chủng", "text": "Sáng thứ hai, ngày 2 tháng 3, tiêm chủng tại trạm y tế xã.",
        "engine": "espeak"}


def _create(client, world, **extra):
    r = client.post(f"/api/v1/communes/{world.a}/content", headers=world.h("secretary"), json={**TEXT, **extra})
    assert r.status_code == 202, r.text
    return r.json()["item"]["id"], r.json()["job"]["id"]


def test_worker_killed_mid_job_is_resumed_by_another_after_the_lease(client, app, world, settings, clock):
    item_id, job_id = _create(client, world)
    engine = app.state.engine
    dead = jobs.claim(engine, "worker-A", clock(), settings.job_lease_seconds)  # A claims, then dies
    assert dead is not None and dead.id == job_id and dead.attempts == 1
    b = Worker(engine, settings, default_handlers(), clock, worker_id="worker-B")
    assert b.run_once(clock() + timedelta(seconds=settings.job_lease_seconds - 1)) is None  # lease still held
    seen = client.get(f"/api/v1/jobs/{job_id}", headers=world.h("secretary")).json()
    assert seen["status"] == "running" and seen["attempts"] == 1
    resumed = b.run_once(clock() + timedelta(seconds=settings.job_lease_seconds + 1))
    assert resumed is not None and resumed.id == job_id
    job = client.get(f"/api/v1/jobs/{job_id}", headers=world.h("secretary")).json()
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["result"]["applied"] is True
    item = client.get(f"/api/v1/content/{item_id}", headers=world.h("cadre")).json()
    assert item["render_state"] == "ready" and item["audio"]["duration_s"] > 1
    assert item["engine"] == "espeak"
    assert jobs.complete(engine, job_id, "worker-A", {}, clock()) is False  # A's late result is ignored
    # the rendered item goes through the flow
    assert client.post(f"/api/v1/content/{item_id}/submit", headers=world.h("secretary")).status_code == 200
    assert client.post(f"/api/v1/content/{item_id}/approve", headers=world.h("cadre"),
                       json={"reviewed_sha256": item["audio"]["sha256"]}).status_code == 200
    audio = client.get(item["audio"]["url"], headers=world.h("cadre"))
    assert audio.status_code == 200 and audio.content[:4] == b"OggS"


def test_stale_render_does_not_overwrite_a_newer_text(client, app, world, settings, clock):
    item_id, first_job = _create(client, world)
    r = client.patch(f"/api/v1/content/{item_id}", headers=world.h("secretary"), json={"text": "Văn bản mới."})
    second_job = r.json()["job"]["id"]
    worker = Worker(app.state.engine, settings, default_handlers(), clock)
    assert worker.run_until_idle() == 2
    results = {j: client.get(f"/api/v1/jobs/{j}", headers=world.h("cadre")).json()["result"]
               for j in (first_job, second_job)}
    assert results[first_job] == {"skipped": "stale"} and results[second_job]["applied"] is True


def test_failures_retry_with_exponential_backoff_then_fail(app, world, settings, clock):
    engine = app.state.engine
    calls = []

    def flaky(ctx, job):
        calls.append(ctx.now)
        raise RuntimeError("mạng chập chờn")

    with session_scope(engine) as s:
        job_id = jobs.enqueue(s, "test.flaky", {}, clock(), commune_id=world.a, max_attempts=3).id
    worker = Worker(engine, settings, {"test.flaky": flaky}, clock)
    assert worker.run_once(clock()) is not None
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        assert job.status == "queued" and job.attempts == 1 and "mạng chập chờn" in job.last_error
        assert job.run_after == clock() + timedelta(seconds=10)
    assert worker.run_once(clock() + timedelta(seconds=9)) is None  # backing off
    assert worker.run_once(clock() + timedelta(seconds=10)) is not None
    with session_scope(engine) as s:
        assert s.get(Job, job_id).run_after == clock() + timedelta(seconds=10 + 20)  # 10 · 2^1
    assert worker.run_once(clock() + timedelta(seconds=30)) is not None
    with session_scope(engine) as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and job.attempts == 3 and job.finished_at is not None
    assert len(calls) == 3


def test_permanent_errors_fail_at_once_and_abandoned_last_attempt_fails(app, settings, clock):
    engine = app.state.engine

    def bad(ctx, job):
        raise PermanentJobError("không đọc được")

    with session_scope(engine) as s:
        bad_id = jobs.enqueue(s, "test.bad", {}, clock()).id
        lost_id = jobs.enqueue(s, "test.lost", {}, clock(), max_attempts=1).id
    Worker(engine, settings, {"test.bad": bad}, clock).run_once()
    assert jobs.claim(engine, "A", clock(), 60, kinds=["test.lost"]).id == lost_id  # A dies on the only attempt
    # the next worker's round fails it (the lease ran out on the last attempt) instead of running it again
    assert Worker(engine, settings, {"test.lost": bad}, clock).run_once(clock() + timedelta(seconds=61)) is None
    with session_scope(engine) as s:
        assert s.get(Job, bad_id).status == "failed" and s.get(Job, bad_id).attempts == 1
        assert s.get(Job, lost_id).status == "failed"


def test_concurrent_workers_claim_each_job_exactly_once(app, settings, clock):
    engine = app.state.engine
    with session_scope(engine) as s:
        ids = {jobs.enqueue(s, "test.noop", {"n": n}, clock()).id for n in range(24)}
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def run(name):
        while (job := jobs.claim(engine, name, clock(), 60)) is not None:
            with lock:
                claimed.append((name, job.id))
            jobs.complete(engine, job.id, name, {"by": name}, clock())

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(j for _, j in claimed) == sorted(ids)


def test_in_process_worker_thread_renders(client, app, world):
    item_id, job_id = _create(client, world)
    app.state.worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = client.get(f"/api/v1/jobs/{job_id}", headers=world.h("secretary")).json()
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.1)
    finally:
        app.state.worker.stop()
    assert job["status"] == "succeeded", job
    with session_scope(app.state.engine) as s:
        assert s.get(ContentItem, item_id).audio_sha256 == job["result"]["sha256"]
