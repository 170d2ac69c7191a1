"""The error family: each member has a stable code, a Vietnamese and an English message and says whether it is
retryable; the API renders every member as problem+json (English on request); the job worker retries the
retryable ones and fails the permanent ones at once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import PROBLEM, install
from broadcaster.agent.client import DeviceRevoked, StationError
from broadcaster.agent.enroll import EnrollmentError
from broadcaster.agent.errors import AgentError
from broadcaster.agent.http import TransportError
from broadcaster.agent.playback import PlaybackUnavailable
from broadcaster.agent.runner import NotEnrolled
from broadcaster.agent.store import CacheError, ContentMismatch, DiskFull
from content.audio.ffmpeg import FfmpegError
from content.audio.ingest import IngestError
from content.library.master_job import MasteringRefused
from content.library.render import RenderRefused
from content.store import AudioStore, StoreError
from content.tts.base import EngineError
from content.tts.espeak import EspeakError
from loa.db import session_scope
from loa.errors import ErrorFamily, Invalid, LoaError, NotFound, RateLimited
from loa.jobs import service as jobs
from loa.jobs.models import Job
from loa.jobs.worker import PermanentJobError, Worker
from schedules.cap import CapError
from schedules.limits import RecurrenceLimitError
from schedules.streams.sample import StreamUnreachable

# (the error, its code, Vietnamese message, English message, retryable)
STATION = [
    (EngineError("Văn bản trống / The text is empty", "espeak", code="empty_text"),
     "empty_text", "Văn bản trống", "The text is empty", False),
    (EngineError("Giọng Google không trả lời / Google voice did not answer", "gtts", retryable=True),
     "tts_unavailable", "Giọng Google không trả lời", "Google voice did not answer", True),
    (EngineError("espeak-ng lỗi / espeak-ng failed", "espeak"),
     "tts_failed", "espeak-ng lỗi", "espeak-ng failed", False),
    (EspeakError("init -1"), "espeak_failed", "espeak-ng lỗi: init -1", "espeak-ng failed: init -1", False),
    (IngestError("not_audio"), "not_audio", "Tệp không phải là âm thanh", "The file is not audio", False),
    (IngestError("too_long", limit="30 phút / 30 min"), "too_long", "Bản ghi quá dài (tối đa 30 phút / 30 min)",
     "The recording is too long (limit 30 phút / 30 min)", False),
    (FfmpegError("Invalid data found"), "ffmpeg_failed", "ffmpeg không xử lý được âm thanh: Invalid data found",
     "ffmpeg could not process the audio: Invalid data found", True),
    (StoreError("no audio ab in the store"), "audio_not_found", "Kho không có tệp âm thanh này: no audio ab in the "
     "store", "The store holds no such audio file: no audio ab in the store", False),
    (StoreError("not a sha256: 'x'", "audio_name_invalid"), "audio_name_invalid",
     "Tên tệp âm thanh không phải mã sha256: not a sha256: 'x'", "The audio name is not a sha256: not a sha256: 'x'",
     False),
    (RenderRefused("Không tạo được / Could not make", "no_voice"), "no_voice", "Không tạo được", "Could not make",
     False),
    (MasteringRefused("Bản ghi không còn / The file is gone"), "mastering_refused", "Bản ghi không còn",
     "The file is gone", False),
    (PermanentJobError("không đọc được"), "job_failed", "không đọc được", "không đọc được", False),
    (CapError("expired", "Cảnh báo đã hết hạn / the alert has expired"), "expired", "Cảnh báo đã hết hạn",
     "the alert has expired", False),
    (RecurrenceLimitError("too_frequent", "Quá dày", "Too frequent", min_interval_s=300), "too_frequent",
     "Quá dày", "Too frequent", False),
    (NotFound("content_not_found", "Không có nội dung", "No such content"), "content_not_found",
     "Không có nội dung", "No such content", False),
    (RateLimited("rate_limited", "Chậm lại", "Slow down", retry_after=30), "rate_limited", "Chậm lại", "Slow down",
     True),
    (StreamUnreachable("stream_unreachable", "Không nghe được luồng này", "Cannot hear this stream"),
     "stream_unreachable", "Không nghe được luồng này", "Cannot hear this stream", True),
]

AGENT = [
    (StationError("unreachable", "Không kết nối được đài / station unreachable: refused"), "unreachable",
     "Không kết nối được đài", "station unreachable: refused", True),
    (StationError("server_error", "Lỗi máy chủ / Server error", status=503), "server_error", "Lỗi máy chủ",
     "Server error", True),
    (StationError("manifest_invalid", "Sai / Wrong", status=422), "manifest_invalid", "Sai", "Wrong", False),
    (DeviceRevoked("device_revoked", "Đã thu hồi / Revoked", status=403), "device_revoked", "Đã thu hồi", "Revoked",
     False),
    (CacheError("download_incomplete", "Tải dở / 10 of 20 B; will resume"), "download_incomplete", "Tải dở",
     "10 of 20 B; will resume", True),
    (DiskFull("Đĩa đầy / disk full"), "disk_full", "Đĩa đầy", "disk full", True),
    (ContentMismatch("audio_hash_mismatch", "Mã băm sai / got ab"), "audio_hash_mismatch", "Mã băm sai", "got ab",
     True),
    (TransportError("timed out"), "transport_failed", "Không nhận được trả lời từ đài: timed out",
     "No usable reply from the station: timed out", True),
    (EnrollmentError("Mã khóa không khớp khóa / a station key id does not match its key"), "enrollment_failed",
     "Mã khóa không khớp khóa", "a station key id does not match its key", False),
    (PlaybackUnavailable("Không tìm thấy ffmpeg / ffmpeg not found"), "playback_unavailable", "Không tìm thấy ffmpeg",
     "ffmpeg not found", False),
    (NotEnrolled(), "not_enrolled", "Thiết bị chưa đăng ký với đài", "This device is not enrolled", False),
]


@pytest.mark.parametrize("exc, code, vi, en, retryable", STATION + AGENT,
                         ids=[f"{type(e[0]).__name__}-{e[1]}" for e in STATION + AGENT])
def test_every_member_has_its_code_both_messages_and_says_whether_to_retry(exc, code, vi, en, retryable):
    assert isinstance(exc, ErrorFamily)
    assert (exc.code, exc.message_vi, exc.message_en, exc.retryable) == (code, vi, en, retryable)
    branch = LoaError if (exc, code, vi, en, retryable) in STATION else AgentError
    assert isinstance(exc, branch)


def test_members_keep_the_builtin_bases_callers_catch(tmp_path):
    # "without changing behaviour": code that catches ValueError / LookupError / RuntimeError still does
    assert isinstance(IngestError("empty_file"), ValueError)
    assert isinstance(StoreError("x"), LookupError)
    assert isinstance(EngineError("a / b"), RuntimeError) and isinstance(FfmpegError("x"), RuntimeError)
    assert str(StationError("unreachable", "a / b")) == "unreachable: a / b"
    with pytest.raises(StoreError) as caught:
        AudioStore(tmp_path).path_for("0" * 64)
    assert caught.value.code == "audio_not_found" and caught.value.status == 404


def _problem_app() -> TestClient:
    app = FastAPI()
    install(app)
    raising = {"tts": EngineError("Giọng Google không trả lời / Google voice did not answer", "gtts",
                                  retryable=True),
               "ingest": IngestError("not_audio"), "too-large": IngestError("too_large", limit="1 MB"),
               "store": StoreError("no audio ab in the store"), "ffmpeg": FfmpegError("Invalid data"),
               "cap": CapError("expired", "Cảnh báo đã hết hạn / the alert has expired"),
               "invalid": Invalid("bad_time", "Giờ sai", "Wrong time", field="start"),
               "limited": RateLimited("rate_limited", "Chậm lại", "Slow down", retry_after=30)}

    @app.get("/api/v1/raise/{what}")
    def raise_it(what: str) -> None:
        raise raising[what]

    return TestClient(app)


@pytest.mark.parametrize("what, status, code, retryable, vi, en", [
    ("tts", 503, "tts_unavailable", True, "Giọng Google không trả lời", "Google voice did not answer"),
    ("ingest", 415, "not_audio", False, "Tệp không phải là âm thanh", "The file is not audio"),
    ("too-large", 413, "too_large", False, "Tệp quá lớn (tối đa 1 MB)", "The file is too large (limit 1 MB)"),
    ("store", 404, "audio_not_found", False, "Kho không có tệp âm thanh này: no audio ab in the store",
     "The store holds no such audio file: no audio ab in the store"),
    ("ffmpeg", 500, "ffmpeg_failed", True, "ffmpeg không xử lý được âm thanh: Invalid data",
     "ffmpeg could not process the audio: Invalid data"),
    ("cap", 422, "expired", False, "Cảnh báo đã hết hạn", "the alert has expired"),
    ("invalid", 422, "bad_time", False, "Giờ sai", "Wrong time"),
    ("limited", 429, "rate_limited", True, "Chậm lại", "Slow down"),
])
def test_the_api_renders_every_member_as_problem_json(what, status, code, retryable, vi, en):
    client = _problem_app()
    r = client.get(f"/api/v1/raise/{what}")
    assert r.status_code == status and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"urn:loa:problem:{code}" and body["status"] == status and body["code"] == code
    assert body["retryable"] is retryable and body["detail"] == vi
    assert (body["message_vi"], body["message_en"]) == (vi, en) and body["title"]
    english = client.get(f"/api/v1/raise/{what}", headers={"Accept-Language": "en-GB,en;q=0.9,vi;q=0.5"}).json()
    assert english["detail"] == en and english["code"] == code and english["title"] != body["title"]
    if status == 503:
        assert english["title"] == "Service unavailable"
    if what == "limited":
        assert r.headers["retry-after"] == "30"
    if what == "invalid":
        assert body["field"] == "start"


def test_a_real_route_answers_problem_json_with_the_stable_code_in_english_on_request(client, world):
    r = client.post(f"/api/v1/communes/{world.a}/recordings",
                    headers={**world.h("secretary"), "Accept-Language": "en"},
                    files={"file": ("photo.wav", b"%PDF-1.7\n" + b"x" * 4000, "audio/wav")}, data={"title": "T"})
    assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "not_audio" and body["retryable"] is False
    assert body["detail"] == "The file is not audio" and body["message_vi"] == "Tệp không phải là âm thanh"


def test_the_worker_retries_retryable_members_and_fails_permanent_ones_at_once(app, settings, clock):
    engine = app.state.engine
    calls: dict[str, int] = {"busy": 0, "refused": 0}

    def busy(ctx, job):
        calls["busy"] += 1
        raise EngineError("Giọng Google bận / Google voice busy", "gtts", retryable=True)

    def refused(ctx, job):
        calls["refused"] += 1
        raise IngestError("corrupt_audio")

    with session_scope(engine) as s:
        busy_id = jobs.enqueue(s, "test.busy", {}, clock(), max_attempts=3).id
        refused_id = jobs.enqueue(s, "test.refused", {}, clock(), max_attempts=3).id
    worker = Worker(engine, settings, {"test.busy": busy, "test.refused": refused}, clock)
    assert worker.run_until_idle() == 2
    with session_scope(engine) as s:
        busy_job, refused_job = s.get(Job, busy_id), s.get(Job, refused_id)
        assert busy_job.status == "queued" and busy_job.attempts == 1 and "Google voice busy" in busy_job.last_error
        assert refused_job.status == "failed" and refused_job.attempts == 1
        assert "Tệp âm thanh bị hỏng" in refused_job.last_error
    assert worker.run_once(clock() + timedelta(seconds=10)) is not None  # the retryable one runs again
    assert calls == {"busy": 2, "refused": 1}


def test_a_render_failure_and_the_worker_agree_on_retrying():
    from content.library.render_errors import classify

    assert classify(EspeakError("init -1")).retryable is False  # permanent member: not retried by either
    assert classify(FfmpegError("encoder crashed")).retryable is True  # retryable member: retried by both
    assert classify(EngineError("a / b", "gtts", retryable=True)).retryable is True
    assert classify(OSError("disk")).retryable is True  # not a member: retried, as before
