"""A burst of uploads never runs more masterings at once than `max_concurrent_masterings`: the rest are checked,
kept, and mastered by jobs (the item waits: "đang chờ"). A recording longer than the station's longest programme
is refused while it is being decoded, leaving nothing behind. Real uploads through the API, real audio."""
from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from content.audio.ebur128 import ebur128_measure
from content.audio.ffmpeg import ffmpeg_exe
from tests.api.test_uploads import _rows, _snapshot

LIMIT = 2


@pytest.fixture
def settings(tmp_path, db_url):
    from loa.settings import Settings

    return Settings(data_dir=tmp_path / "data", database_url=db_url, worker_enabled=False, print_setup_token=False,
                    job_backoff_seconds=10, job_lease_seconds=600, max_upload_bytes=2 * 1024 * 1024,
                    max_concurrent_masterings=LIMIT)


@functools.lru_cache(maxsize=None)
def _opus_speech(seconds: float, container: str = "ogg") -> bytes:
    """espeak reading Vietnamese, repeated to `seconds`, as a small Opus file (what a browser records). The same
    bytes for the SQLite and the PostgreSQL run: made once, at libopus complexity 0 (the default 10 cost ~4x the
    CPU, for quality no test here judges)."""
    import subprocess

    from content.tts.espeak import synthesize_pcm

    pcm = synthesize_pcm("Thông báo của Ủy ban nhân dân xã về lịch tiêm phòng cho trẻ em dưới năm tuổi.")
    x = np.tile(pcm.samples, int(seconds / pcm.duration_s) + 1)[: int(seconds * pcm.rate)]
    return subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "f32le", "-ar", str(pcm.rate), "-ac", "1",
                           "-i", "pipe:0", "-c:a", "libopus", "-b:a", "16k", "-compression_level", "0", "-f", container,
                           "pipe:1"],
                          input=x.astype(np.float32).tobytes(), capture_output=True, check=True).stdout


@pytest.fixture
def masterings_at_once(monkeypatch):
    """Counts master_recording calls running at the same moment (the real function runs).

    No mastering starts before an upload has found every slot taken (its check began) or 60 s have passed: the
    burst then meets busy slots however fast a mastering is, instead of only while one takes longer than the
    next request needs to arrive (which made the uploads 90 s long). A broken limit is still seen: uploads past
    it would all be counted here, held together, until the 60 s are up."""
    import content.library.upload
    import content.pipeline

    real, lock, state = content.pipeline.master_recording, threading.Lock(), {"now": 0, "most": 0, "calls": 0}
    real_check, waited = content.library.upload.check_upload, threading.Event()

    def check_upload(*args, **kwargs):
        waited.set()
        return real_check(*args, **kwargs)

    def counted(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            waited.wait(timeout=60)
            return real(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(content.pipeline, "master_recording", counted)
    monkeypatch.setattr(content.library.upload, "check_upload", check_upload)
    return state


def _post(client, world, data: bytes, title: str):
    return client.post(f"/api/v1/communes/{world.a}/recordings", headers=world.h("secretary"),
                       files={"file": ("ghi-am.ogg", data, "audio/ogg")},
                       data={"title": title, "transcript": "Lịch tiêm phòng"})


def test_more_uploads_than_slots_wait_as_jobs(client, engine, world, settings, clock, masterings_at_once):
    from station.handlers import default_handlers
    from loa.jobs.worker import Worker

    data = _opus_speech(20.0)  # the masterings wait for the burst (masterings_at_once): any length shows it
    uploads = LIMIT + 1
    start = threading.Barrier(uploads)
    responses: list = [None] * uploads

    def upload(i: int) -> None:
        start.wait()
        responses[i] = _post(client, world, data, f"Thông báo {i}")

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(uploads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in responses)
    assert codes.count(202) >= 1 and set(codes) <= {201, 202}, [r.text for r in responses]
    assert masterings_at_once["most"] <= LIMIT
    waiting = [r.json() for r in responses if r.status_code == 202]
    for body in waiting:  # the item exists, without audio, and its job is queued
        assert body["item"]["render_state"] == "pending" and body["item"]["audio"] is None
        assert body["job"]["status"] == "queued"
        assert body["job"]["kind"] == "content.master_recording"
    # The web page of a waiting item says so, in Vietnamese first.
    from tests.station_rig import PASSWORD

    client.post("/login", data={"username": "secretary", "password": PASSWORD, "next": "/app"})
    page = client.get(f"/app/items/{waiting[0]['item']['id']}")
    assert page.status_code == 200 and "Đang chờ đến lượt" in page.text

    # The worker masters the kept uploads; uploads arriving meanwhile still respect the limit.
    worker = Worker(engine, settings, default_handlers(), clock)
    late = threading.Thread(target=lambda: responses.append(_post(client, world, data, "Muộn")))
    late.start()
    assert worker.run_until_idle() >= len(waiting)
    late.join()
    worker.run_until_idle()
    assert masterings_at_once["most"] <= LIMIT
    assert masterings_at_once["calls"] == uploads + 1

    for r in responses:
        item_id = (r.json()["item"] if r.status_code == 202 else r.json())["id"]
        item = client.get(f"/api/v1/content/{item_id}", headers=world.h("secretary")).json()
        assert item["render_state"] == "ready", item
        ref = ebur128_measure(settings.audio_dir / item["audio"]["sha256"][:2] / item["audio"]["sha256"][2:4]
                              / f"{item['audio']['sha256']}.ogg")
        assert abs(ref.integrated_lufs + 16.0) <= 0.5 and ref.true_peak_dbtp <= -1.0, ref
    assert [p.name for p in settings.tmp_dir.iterdir()] == []  # kept uploads are gone once mastered


def test_a_recording_longer_than_the_longest_programme_is_refused(client, engine, world, settings, clock):
    from loa.db import session_scope
    from schedules.tables import StationSettingsRow

    with session_scope(engine) as s:
        s.add(StationSettingsRow(commune_id=world.a, max_programme_s=60.0, updated_at=clock()))
    # WebM from a pipe has no duration in its header (as browsers record): only decoding finds the length.
    data = _opus_speech(75.0, "webm")
    before, rows = _snapshot(settings), _rows(engine)
    r = client.post(f"/api/v1/communes/{world.a}/recordings", headers=world.h("secretary"),
                    files={"file": ("dai.webm", data, "audio/webm")}, data={"title": "Quá dài"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "too_long" and r.headers["content-type"] == "application/problem+json"
    assert "Bản ghi quá dài (tối đa 1 phút" in body["detail"] or "Bản ghi quá dài (tối đa 1 phút" in r.text
    assert _snapshot(settings) == before and _rows(engine) == rows
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar() == 0
    # Under the limit, the same station takes it.
    ok = client.post(f"/api/v1/communes/{world.a}/recordings", headers=world.h("secretary"),
                     files={"file": ("ngan.webm", _opus_speech(50.0, "webm"), "audio/webm")}, data={"title": "Vừa"})
    assert ok.status_code == 201, ok.text


def test_while_every_slot_is_busy_a_bad_upload_is_still_refused_at_once(client, engine, world, settings, clock):
    """The slots are held (as by long masterings): a good upload is checked and kept for a job, a bad one gets
    its 4xx at once and leaves nothing — no kept file, no item, no job."""
    from content.slots import slots_for
    from tests.station_rig import silent_wav

    slots = slots_for(LIMIT)
    for _ in range(LIMIT):
        assert slots.acquire(timeout=120)
    try:
        before, rows = _snapshot(settings), _rows(engine)
        silent = client.post(f"/api/v1/communes/{world.a}/recordings", headers=world.h("secretary"),
                             files={"file": ("im-lang.wav", silent_wav(), "audio/wav")}, data={"title": "Im lặng"})
        assert silent.status_code == 422 and silent.json()["code"] == "silent_recording", silent.text
        assert _snapshot(settings) == before and _rows(engine) == rows
        good = _post(client, world, _opus_speech(20.0), "Chờ")
        assert good.status_code == 202, good.text
        kept = [p.name for p in settings.tmp_dir.iterdir()]
        assert len(kept) == 1 and kept[0].startswith("waiting-")
    finally:
        for _ in range(LIMIT):
            slots.release()
    from station.handlers import default_handlers
    from loa.jobs.worker import Worker

    assert Worker(engine, settings, default_handlers(), clock).run_until_idle() == 1
    item = client.get(f"/api/v1/content/{good.json()['item']['id']}", headers=world.h("secretary")).json()
    assert item["render_state"] == "ready" and abs(item["audio"]["integrated_lufs"] + 16.0) <= 0.5
    assert list(settings.tmp_dir.iterdir()) == []
    # the uploader of a recording that waited for its turn is its contributor: they may not approve it alone
    contributors = client.get(f"/api/v1/content/{item['id']}/contributions", headers=world.h("secretary")).json()
    assert [(c["user_id"], c["kind"]) for c in contributors] == [(world.users["secretary"], "create_recording")]
