"""Issue 13: a render that cannot succeed ends `failed` with a reason the author reads (Vietnamese first) and a
way to fix it; a passing failure (the network voice is down) is retried a bounded number of times, then
reported the same way. Short texts render."""
from __future__ import annotations

from datetime import timedelta

import pytest

from station.handlers import default_handlers
from loa.jobs.worker import Worker


def _create(client, world, **body):
    r = client.post(f"/api/v1/communes/{world.a}/content", headers=world.h("secretary"),
                    json={"title": "Thử", **body})
    assert r.status_code == 202, r.text
    return r.json()["item"]["id"], r.json()["job"]["id"]


def _get(client, world, path):
    return client.get(path, headers=world.h("secretary")).json()


@pytest.mark.parametrize("body,code,fixes", [
    ({"text": "Xin chào bà con", "voice": "khong-co-giong-nay"}, "no_voice", ["change_voice"]),
    ({"text": "Xin chào bà con", "engine": "espeak", "voice": "en-us"}, "no_voice", ["change_voice"]),
    ({"text": "... !!! ???"}, "empty_text", ["edit_text"]),
])
def test_a_text_no_engine_can_speak_fails_at_once_with_a_reason(client, app, world, settings, clock, body, code,
                                                                 fixes):
    item_id, job_id = _create(client, world, **body)
    worker = Worker(app.state.engine, settings, default_handlers(), clock)
    assert worker.run_once(clock()) is not None
    job = _get(client, world, f"/api/v1/jobs/{job_id}")
    assert job["status"] == "failed" and job["attempts"] == 1  # no pointless retries
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert item["render_state"] == "failed" and item["render_error_code"] == code
    assert item["render_fixes"] == fixes
    vi, _, en = item["render_error"].partition(" / ")
    assert vi and en and vi != en  # Vietnamese first, then English
    assert worker.run_once(clock() + timedelta(hours=1)) is None  # nothing left to retry


def test_fixing_the_voice_renders_again(client, app, world, settings, clock):
    item_id, _ = _create(client, world, text="Xin chào bà con", voice="khong-co-giong-nay")
    worker = Worker(app.state.engine, settings, default_handlers(), clock)
    worker.run_until_idle(clock())
    r = client.patch(f"/api/v1/content/{item_id}", headers=world.h("secretary"), json={"voice": "vi"})
    assert r.status_code == 200 and r.json()["job"] is not None
    worker.run_until_idle(clock())
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert item["render_state"] == "ready" and item["render_error"] is None and item["render_fixes"] == []


def test_short_text_renders(client, app, world, settings, clock):
    item_id, job_id = _create(client, world, text="Thử.", engine="espeak")
    Worker(app.state.engine, settings, default_handlers(), clock).run_until_idle(clock())
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert _get(client, world, f"/api/v1/jobs/{job_id}")["status"] == "succeeded"
    assert item["render_state"] == "ready" and 0.3 < item["audio"]["duration_s"] < 2.0
    assert abs(item["audio"]["integrated_lufs"] + 16) <= 0.5 and item["audio"]["true_peak_dbtp"] <= -1.0


@pytest.fixture
def google_down(monkeypatch):
    """Google's endpoint on a port where nothing listens: the network voice is unreachable (retryable)."""
    import gtts.tts

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(gtts.tts, "_translate_url", lambda tld="com", path="": "http://127.0.0.1:9/" + path)


def test_network_voice_down_is_retried_then_fails_with_a_reason(client, app, world, settings, clock, google_down):
    item_id, job_id = _create(client, world, text="Xin chào bà con", engine="gtts")
    worker = Worker(app.state.engine, settings, default_handlers(), clock)
    assert worker.run_once(clock()) is not None
    job = _get(client, world, f"/api/v1/jobs/{job_id}")
    assert job["status"] == "queued" and job["attempts"] == 1  # will be retried
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert item["render_state"] == "pending" and item["render_error"].startswith("Lần 1/5 chưa được")
    at = clock()
    for _ in range(10):
        at += timedelta(minutes=10)  # past every backoff
        if worker.run_once(at) is None:
            break
    job = _get(client, world, f"/api/v1/jobs/{job_id}")
    assert job["status"] == "failed" and job["attempts"] == job["max_attempts"] == 5
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert item["render_state"] == "failed" and item["render_error_code"] == "engine_unavailable"
    assert item["render_fixes"] == ["retry", "change_voice"]
    assert item["render_error"].startswith("Bộ đọc chưa dùng được lúc này")
    # retry (same words, same voice): a new job; only a failed render may be retried
    r = client.post(f"/api/v1/content/{item_id}/render", headers=world.h("secretary"))
    assert r.status_code == 202 and r.json()["item"]["render_state"] == "pending" and r.json()["job"]["id"] != job_id
    again = client.post(f"/api/v1/content/{item_id}/render", headers=world.h("secretary"))
    assert again.status_code == 409 and again.json()["code"] == "render_not_failed"
    # choosing the offline voice fixes it
    client.patch(f"/api/v1/content/{item_id}", headers=world.h("secretary"), json={"engine": "espeak"})
    worker.run_until_idle(at + timedelta(hours=1))
    assert _get(client, world, f"/api/v1/content/{item_id}")["render_state"] == "ready"


def test_retry_refuses_recordings(client, engine, world, facts, clock):
    from tests.station_rig import make_item

    item = make_item(engine, world, facts, clock)
    r = client.post(f"/api/v1/content/{item}/render", headers=world.h("secretary"))
    assert r.status_code == 422 and r.json()["code"] == "not_a_text_item"


def test_a_render_whose_worker_died_on_its_last_attempt_ends_failed(client, app, world, settings, clock):
    """The worker process stopped during the job's last attempt (power cut, OOM kill): its lease runs out and the
    next worker fails the job. The item must say so too, not show "Đang làm âm thanh…" for ever."""
    from loa.jobs import service

    item_id, job_id = _create(client, world, text="Xin chào bà con", engine="espeak")
    engine = app.state.engine
    at = clock()
    for attempt in range(5):  # five workers each claim the job and die without a word
        job = service.claim(engine, f"dead-worker-{attempt}", at, lease_seconds=60)
        assert job is not None and job.id == job_id and job.attempts == attempt + 1
        at += timedelta(minutes=30)  # past the lease and any backoff
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert item["render_state"] == "pending"
    Worker(engine, settings, default_handlers(), clock).run_once(at)
    job = _get(client, world, f"/api/v1/jobs/{job_id}")
    assert job["status"] == "failed" and "lease expired" in job["last_error"]
    item = _get(client, world, f"/api/v1/content/{item_id}")
    assert item["render_state"] == "failed" and item["render_error_code"] == "render_interrupted"
    assert item["render_fixes"] == ["retry"] and item["render_error"].startswith("Việc tạo âm thanh bị dừng")
    # the author's retry renders it
    assert client.post(f"/api/v1/content/{item_id}/render", headers=world.h("secretary")).status_code == 202
    Worker(engine, settings, default_handlers(), clock).run_until_idle(at + timedelta(minutes=1))
    assert _get(client, world, f"/api/v1/content/{item_id}")["render_state"] == "ready"


def test_exhausted_leases_are_failed_by_exactly_one_worker(engine, clock):
    """Two workers sweeping at once: each dead job is reported (and its hook run) once."""
    from loa.db import session_scope
    from loa.jobs import service

    with session_scope(engine) as s:
        service.enqueue(s, "test.noop", {}, clock(), max_attempts=1)
    assert service.claim(engine, "dead", clock(), lease_seconds=1) is not None
    later = clock() + timedelta(minutes=5)
    first = service.fail_exhausted(engine, later)
    second = service.fail_exhausted(engine, later)
    assert [j.kind for j in first] == ["test.noop"] and second == []
