"""What a station refuses, with which code, and that each refusal is in its audit log and changes nothing: unsigned,
tampered, unknown sender, unpinned key, another station's message, an old capture, an older or conflicting
version, an unknown schema, the wrong direction, an expired bulletin, altered audio; and the audio route."""
from __future__ import annotations

import copy
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from broadcaster.interchange import envelope, schemas
from broadcaster.interchange.audio_fetch import AUDIO_PATH
from broadcaster.interchange.outbox import MESSAGES_PATH
from loa.db import session_scope
from tests.broadcaster.station.live import TamperProxy
from tests.broadcaster.interchange import stations


def _queued(pair, level="normal", hours=24):
    bulletin = stations.approved_bulletin(pair.province, pair.facts, pair.clock())
    stations.send(pair.province, bulletin, level, pair.clock(), hours=hours)
    return stations.outbox_rows(pair.province)[-1]


def _body(pair, row, **changes) -> dict:
    header = schemas.Header(schemas.ACCEPTED[row.kind], stations.PROVINCE, stations.COMMUNE, pair.clock())
    return {**row.body, **header.to_dict(), **changes}


def _post(pair, env) -> httpx.Response:
    return httpx.post(pair.commune.url + MESSAGES_PATH, json=env, timeout=30)


def _refusals(st) -> list[str]:
    from loa.audit.models import AuditEntry

    with session_scope(st.engine) as s:
        return [e.detail["code"] for e in s.exec(select(AuditEntry).where(AuditEntry.action == "interchange.refused")
                                                 .order_by(AuditEntry.id))]


def _refused(pair, env, code: str, status: int) -> None:
    reply = _post(pair, env)
    assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["message_vi"] and reply.json()["message_en"]
    assert _refusals(pair.commune)[-1] == code
    assert stations.inbox(pair.commune) == []


def test_unsigned_and_tampered_bulletins_are_refused_and_logged(pair):
    row = _queued(pair)
    key = pair.province.me.key()
    _refused(pair, {"message": _body(pair, row)}, "interchange_unsigned", 401)
    _refused(pair, {"message": _body(pair, row), "key_id": key.key_id, "signature": ""}, "interchange_unsigned", 401)
    tampered = envelope.sign(_body(pair, row), key)
    tampered["message"]["level"] = "emergency"  # a man in the middle raises the level
    _refused(pair, tampered, "interchange_signature_invalid", 401)
    swapped = envelope.sign(_body(pair, row), key)
    swapped["message"]["audio"][0]["sha256"] = "0" * 64  # or swaps the audio
    _refused(pair, swapped, "interchange_signature_invalid", 401)
    assert reply_retryable(pair, tampered)  # the outbox tries again: the genuine message may pass next time
    # nothing of the refused audio was fetched
    assert not any(pair.commune.settings.audio_dir.rglob("*.ogg"))


def reply_retryable(pair, env) -> bool:
    return _post(pair, env).json().get("retryable") is True


def test_unknown_sender_unpinned_key_wrong_recipient_and_old_capture(pair):
    from broadcaster.signing import generate_key

    row = _queued(pair)
    key = pair.province.me.key()
    _refused(pair, envelope.sign(_body(pair, row, sender="tinh-gia-mao"), key), "interchange_unknown_peer", 403)
    _refused(pair, envelope.sign(_body(pair, row), generate_key()), "interchange_unknown_key", 403)
    _refused(pair, envelope.sign(_body(pair, row, recipient="xa-khac"), key), "interchange_wrong_recipient", 422)
    old = _body(pair, row, sent_at=schemas.format_time(pair.clock() - timedelta(hours=1)))
    _refused(pair, envelope.sign(old, key), "interchange_clock_skew", 401)
    _refused(pair, envelope.sign(_body(pair, row, schema="loa.interchange.bulletin/2"), key),
             "interchange_schema_unknown", 422)
    # a commune station may not send bulletins down to its province
    up = envelope.sign({**_body(pair, row), "sender": stations.COMMUNE, "recipient": stations.PROVINCE},
                       pair.commune.me.key())
    reply = httpx.post(pair.province.url + MESSAGES_PATH, json=up, timeout=30)
    assert (reply.status_code, reply.json()["code"]) == (403, "interchange_role_refused")


def test_older_and_conflicting_versions_and_expired(pair):
    row = _queued(pair)
    key = pair.province.me.key()
    v2 = _body(pair, row, version=2)
    assert _post(pair, envelope.sign(v2, key)).status_code == 200
    _refused_keep(pair, envelope.sign(_body(pair, row, version=1), key), "interchange_version_old", 409)
    _refused_keep(pair, envelope.sign({**v2, "title": "Đã sửa"}, key), "interchange_version_conflict", 409)
    again = _post(pair, envelope.sign(_body(pair, row, version=2), key))
    assert again.json()["message"]["outcome"] == "duplicate"
    assert [(i.version, i.title) for i in stations.inbox(pair.commune)] == [(2, row.body["title"])]
    late = _body(pair, row, version=3, expires_at=schemas.format_time(pair.clock() - timedelta(minutes=1)),
                 issued_at=schemas.format_time(pair.clock() - timedelta(hours=2)))
    _refused_keep(pair, envelope.sign(late, key), "interchange_expired", 422)


def _refused_keep(pair, env, code, status):
    reply = _post(pair, env)
    assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    assert _refusals(pair.commune)[-1] == code


def test_outbox_gives_up_on_a_permanent_refusal_and_keeps_the_reason(pair):
    """An older version than the commune has is refused for good: the row says why, the peer is not in backoff."""
    row = _queued(pair)
    assert _post(pair, envelope.sign(_body(pair, row, version=5), pair.province.me.key())).status_code == 200
    pair.province.pump(pair.clock())
    [stored] = stations.outbox_rows(pair.province)
    assert stored.status == "refused" and stored.last_error.startswith("interchange_version_old")
    assert stations.peer(pair.province, stations.COMMUNE).failures == 0


def test_altered_audio_is_not_stored_and_the_bulletin_waits(pair):
    """A proxy cuts the audio on its way: the commune refuses (retryable), stores nothing, and takes the bulletin
    once the audio comes through whole."""
    from broadcaster.interchange import peers
    from loa.accounts.auth import CLI

    proxy = TamperProxy(pair.province.url)
    try:
        with session_scope(pair.commune.engine) as s:
            peers.set_base_url(s, CLI, stations.PROVINCE, proxy.url, pair.clock())
        proxy.cut_audio_after = 1000
        _queued(pair)
        assert pair.province.pump(pair.clock())["retry"] == 1
        assert stations.outbox_rows(pair.province)[0].last_error.startswith("interchange_audio")
        assert stations.inbox(pair.commune) == [] and not any(pair.commune.settings.audio_dir.rglob("*.ogg"))
        assert not any(p.name.startswith(".tmp-") for p in pair.commune.settings.audio_dir.rglob("*"))
        proxy.cut_audio_after = None
        pair.clock.now = stations.peer(pair.province, stations.COMMUNE).next_attempt_at
        assert pair.province.pump(pair.clock())["delivered"] == 1
        assert len(stations.inbox(pair.commune)) == 1
    finally:
        proxy.close()


@pytest.mark.parametrize("case", ["unsigned", "unknown", "not_shared"])
def test_audio_route_serves_only_a_peer_its_bulletins_audio(pair, case):
    row = _queued(pair)
    sha = row.body["audio"][0]["sha256"]
    path = AUDIO_PATH.format(sha256=sha)
    me = pair.commune.me
    headers = envelope.request_headers("GET", path, stations.COMMUNE, me.key(), pair.clock())
    assert httpx.get(pair.province.url + path, headers=headers, timeout=30).status_code == 200
    if case == "unsigned":
        reply = httpx.get(pair.province.url + path, timeout=30)
        assert (reply.status_code, reply.json()["code"]) == (401, "interchange_unsigned")
    elif case == "unknown":
        bad = envelope.request_headers("GET", path, "xa-la", me.key(), pair.clock())
        assert httpx.get(pair.province.url + path, headers=bad, timeout=30).json()["code"] == "interchange_unknown_peer"
    else:
        other = AUDIO_PATH.format(sha256="a" * 64)
        h = envelope.request_headers("GET", other, stations.COMMUNE, me.key(), pair.clock())
        reply = httpx.get(pair.province.url + other, headers=h, timeout=30)
        assert (reply.status_code, reply.json()["code"]) == (404, "interchange_audio_not_found")
        # a signature made for one path does not open another
        replayed = httpx.get(pair.province.url + other, headers=copy.deepcopy(headers), timeout=30)
        assert replayed.json()["code"] == "interchange_signature_invalid"


def test_a_flood_of_junk_is_not_written_to_the_audit_log_without_bound(pair):
    for _ in range(70):
        assert _post(pair, {"message": {"schema": "rác"}}).status_code == 401
    assert len(_refusals(pair.commune)) == 60


def test_a_wrong_address_is_retried_not_given_up(pair):
    """A peer URL that answers 404 (a typo, a station without the interchange yet) keeps the message pending
    with the reason, until the admin fixes the address."""
    from broadcaster.interchange import peers
    from loa.accounts.auth import CLI

    with session_scope(pair.province.engine) as s:
        peers.set_base_url(s, CLI, stations.COMMUNE, pair.commune.url + "/sai-duong-dan", pair.clock())
    _queued(pair)
    assert pair.province.pump(pair.clock())["retry"] == 1
    [row] = stations.outbox_rows(pair.province)
    assert row.status == "pending" and row.last_error.startswith("not_found")
    with session_scope(pair.province.engine) as s:
        peers.set_base_url(s, CLI, stations.COMMUNE, pair.commune.url, pair.clock())
    pair.clock.now = stations.peer(pair.province, stations.COMMUNE).next_attempt_at
    assert pair.province.pump(pair.clock())["delivered"] == 1
