"""Recording uploads: good ones are mastered into the store; bad ones get 413/415/422 and leave nothing behind.
Audio download: strong ETag (sha256), Range (206/416), immutable caching."""
from __future__ import annotations

import hashlib
import os

import pytest
import sqlalchemy as sa

from tests.station_rig import silent_wav


def _snapshot(settings):
    files = set()
    for root, dirs, names in os.walk(settings.resolved_data_dir):
        for name in names + dirs:
            files.add(os.path.relpath(os.path.join(root, name), settings.resolved_data_dir))
    return files


def _rows(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM content_items")).scalar()


def _upload(client, world, name, data, ctype, role="secretary", **form):
    return client.post(f"/api/v1/communes/{world.a}/recordings", headers=world.h(role),
                       files={"file": (name, data, ctype)}, data={"title": "Thông báo", **form})


def test_good_upload_is_mastered_and_served_with_range_and_etag(client, engine, world, wav_bytes, settings):
    r = _upload(client, world, "../../../../etc/passwd.wav", wav_bytes, "audio/wav", language="pcc",
                transcript="Lời nhắn bằng tiếng Giáy")
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["original_filename"] == "passwd.wav" and item["source"] == "recording"
    assert item["render_state"] == "ready" and item["language_name"] == "Tiếng Giáy"
    audio = item["audio"]
    assert -17.5 < audio["integrated_lufs"] < -14.5 and audio["duration_s"] > 0.5
    assert list(settings.tmp_dir.iterdir()) == []
    assert not any("passwd" in p for p in _snapshot(settings))

    url, h = audio["url"], world.h("cadre")
    full = client.get(url, headers=h)
    assert full.status_code == 200 and hashlib.sha256(full.content).hexdigest() == audio["sha256"]
    assert full.headers["etag"] == f'"{audio["sha256"]}"' and "immutable" in full.headers["cache-control"]
    assert full.headers["content-type"] == "audio/ogg"
    size = len(full.content)
    part = client.get(url, headers={**h, "Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == full.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{size}"
    tail = client.get(url, headers={**h, "Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == full.content[-50:]
    open_end = client.get(url, headers={**h, "Range": f"bytes={size - 5}-"})
    assert open_end.content == full.content[-5:]
    bad = client.get(url, headers={**h, "Range": f"bytes={size}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{size}"
    cached = client.get(url, headers={**h, "If-None-Match": full.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""


@pytest.mark.parametrize("name,data,ctype,status,code", [
    ("notes.txt", b"Day la van ban, khong phai am thanh", "text/plain", 415, "unsupported_type"),
    ("photo.wav", b"%PDF-1.7\n" + os.urandom(4000), "audio/wav", 415, "not_audio"),
    ("empty.m4a", b"", "audio/mp4", 422, "empty_file"),
    ("cut.wav", None, "audio/wav", 422, "corrupt_audio"),
    ("silence.wav", None, "audio/wav", 422, "silent_recording"),
    ("../../../tmp/evil.ogg", b"OggS" + os.urandom(3000), "audio/ogg", 422, "corrupt_audio"),
])
def test_bad_uploads_are_refused_and_leave_nothing(client, engine, world, settings, wav_bytes, name, data, ctype,
                                                   status, code):
    if name == "cut.wav":
        data = wav_bytes[:44] + b"\x00" * 7  # a WAV header promising audio it does not have
    if name == "silence.wav":
        data = silent_wav()
    before, rows = _snapshot(settings), _rows(engine)
    r = _upload(client, world, name, data, ctype)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and r.headers["content-type"] == "application/problem+json"
    assert r.json()["message_vi"] and r.json()["message_en"]
    assert _snapshot(settings) == before and _rows(engine) == rows
    assert list(settings.tmp_dir.iterdir()) == []


def test_oversized_upload_413_with_length_and_when_chunked(client, engine, world, settings):
    before = _snapshot(settings)
    big = b"RIFF" + os.urandom(settings.max_upload_bytes + 100 * 1024)
    r = _upload(client, world, "big.wav", big, "audio/wav")
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    boundary = "loa-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()

    def chunks():  # no Content-Length: the limit must hold while streaming
        yield head
        for _ in range(settings.max_upload_bytes // 65536 + 8):
            yield os.urandom(65536)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(f"/api/v1/communes/{world.a}/recordings", content=chunks(),
                    headers={**world.h("secretary"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert _snapshot(settings) == before and _rows(engine) == 0


def test_refused_before_reading_when_not_allowed(client, world, wav_bytes, settings):
    before = _snapshot(settings)
    r = _upload(client, world, "a.wav", wav_bytes, "audio/wav", role="outsider")
    assert r.status_code == 404
    r = _upload(client, world, "a.wav", wav_bytes, "audio/wav", village_id=str(world.village_b))
    assert r.status_code == 404 and r.json()["code"] == "village_not_found"
    assert _snapshot(settings) == before
