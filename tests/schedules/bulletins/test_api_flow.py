"""The main path through the API: a district editor writes a text bulletin (read aloud by the station's TTS),
a district approver approves it (not the author: the two-person rule), sends it to a commune as normal; the
commune's cadre accepts it into the commune's schedule; the sender's tracking follows it per loudspeaker."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from loa.db import session_scope


def _compose(client, lv, who="d_editor", level="district", area=None, text="Bà con chú ý lịch tiêm phòng."):
    area = area or lv.district
    r = client.post(f"/api/v1/areas/{level}/{area}/bulletins", headers=lv.h(who),
                    json={"title": "Lịch tiêm phòng", "text": text})
    assert r.status_code == 201, r.text
    return r.json()


def test_compose_approve_send_accept_track(client, levels, clock):
    lv = levels
    b = _compose(client, lv)
    assert b["status"] == "draft" and len(b["audio_sha256"]) == 64 and b["duration_s"] > 0
    assert client.get(f"/api/v1/bulletins/{b['id']}/audio", headers=lv.h("d_approver")).status_code == 200
    assert client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("d_editor")).json()["status"] == "submitted"
    wrong = client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("d_approver"),
                        json={"audio_sha256": "0" * 64})
    assert wrong.status_code == 409 and wrong.json()["code"] == "changed_since_review"
    ok = client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("d_approver"),
                     json={"audio_sha256": b["audio_sha256"]})
    assert ok.json()["status"] == "approved"
    expires = (clock() + timedelta(days=2)).isoformat()
    sent = client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("d_approver"),
                       json={"level": "normal", "expires_at": expires, "communes": [lv.w.a]})
    assert sent.status_code == 200, sent.text
    [delivery] = sent.json()["deliveries"]
    assert (delivery["commune"], delivery["state"]) == ("Cốc San", "received")
    assert {d["state"] for d in delivery["devices"]} == {"received"}

    [item] = client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json()
    assert (item["state"], item["sender_org"], item["level"]) == ("received", "Huyện Bát Xát", "normal")
    at = (clock() + timedelta(hours=3)).isoformat()
    assert client.post(f"/api/v1/bulletin-inbox/{item['id']}/accept", headers=lv.h("secretary"),
                       json={"at": at}).status_code == 403
    accepted = client.post(f"/api/v1/bulletin-inbox/{item['id']}/accept", headers=lv.h("cadre"), json={"at": at})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "scheduled"

    track = client.get(f"/api/v1/bulletins/{b['id']}/tracking", headers=lv.h("p_approver")).json()
    [delivery] = track["deliveries"]
    assert delivery["state"] == "scheduled"
    assert {d["state"] for d in delivery["devices"]} == {"scheduled"}


def test_the_author_cannot_approve_and_an_edit_needs_a_new_approval(client, levels):
    lv = levels
    b = _compose(client, lv, "d_approver")  # an approver may write, but not approve what they wrote
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("d_approver"))
    r = client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("d_approver"),
                    json={"audio_sha256": b["audio_sha256"]})
    assert r.status_code == 403 and r.json()["code"] == "two_person_rule"
    assert client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("d_editor"),
                       json={"audio_sha256": b["audio_sha256"]}).status_code == 403  # an editor approves nothing


def test_refuse_goes_up_with_its_reason_and_is_audited(client, levels, clock):
    from loa.audit.models import AuditEntry

    lv = levels
    b = _compose(client, lv, "p_editor", "province", lv.w.province)
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("p_editor"))
    client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("p_approver"), json={"audio_sha256": b["audio_sha256"]})
    r = client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("p_approver"),
                    json={"level": "normal", "expires_at": (clock() + timedelta(days=1)).isoformat(),
                          "districts": [lv.district2]})
    assert [d["commune"] for d in r.json()["deliveries"]] == ["Tả Phời"]
    [item] = client.get(f"/api/v1/communes/{lv.w.b}/bulletin-inbox", headers=lv.h("outsider")).json()
    refused = client.post(f"/api/v1/bulletin-inbox/{item['id']}/refuse", headers=lv.h("outsider"),
                          json={"reason": "Xã đã phát tin này hôm qua"})
    assert refused.json()["state"] == "refused"
    [delivery] = client.get(f"/api/v1/bulletins/{b['id']}/tracking", headers=lv.h("p_editor")).json()["deliveries"]
    assert (delivery["state"], delivery["detail"]) == ("refused", "Xã đã phát tin này hôm qua")
    with session_scope(client.app.state.engine) as s:
        actions = [e.action for e in s.exec(select(AuditEntry).order_by(AuditEntry.id))]
    for action in ("bulletin.create", "bulletin.submit", "bulletin.approve", "bulletin.send", "bulletin.receive",
                   "bulletin.refuse"):
        assert action in actions


def test_a_recording_in_another_language_is_sent_with_its_words(client, levels, clock, wav_bytes):
    lv = levels
    r = client.post(f"/api/v1/areas/province/{lv.w.province}/bulletins/recording", headers=lv.h("p_editor"),
                    data={"title": "Thông báo tiếng Giáy", "language": "pcc", "transcript": "Lời tiếng Giáy"},
                    files={"file": ("ghi-am.wav", wav_bytes, "audio/wav")})
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["source"], b["language"], b["text"]) == ("recording", "pcc", "Lời tiếng Giáy")
    bad = client.post(f"/api/v1/areas/province/{lv.w.province}/bulletins/recording", headers=lv.h("p_editor"),
                      data={"title": "Không phải âm thanh"}, files={"file": ("x.wav", b"not audio", "audio/wav")})
    assert bad.status_code in (415, 422) and bad.json()["message_vi"]
    outsider = client.post(f"/api/v1/areas/province/{lv.w.province}/bulletins/recording", headers=lv.h("yb_editor"),
                           data={"title": "x"}, files={"file": ("ghi-am.wav", wav_bytes, "audio/wav")})
    assert outsider.status_code == 404
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("p_editor"))
    client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("p_approver"), json={"audio_sha256": b["audio_sha256"]})
    client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("p_approver"),
                json={"level": "normal", "expires_at": (clock() + timedelta(days=1)).isoformat(), "communes": [lv.w.a]})
    [item] = client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json()
    assert item["texts"] == {"pcc": "Lời tiếng Giáy"} and item["sender_org"] == "Tỉnh Lào Cai"


def test_an_emergency_bulletin_airs_at_once_with_the_signed_start_command(client, levels, clock):
    from schedules.tables import EmergencyRow

    lv = levels
    started = []  # beside the broadcaster's commander, which signs and pushes the start command for this key
    client.app.state.schedules.on_rule_started.append(lambda commune, key, at: started.append((commune, key, at)))
    assert client.app.state.commander.rule_started in client.app.state.schedules.on_rule_started
    b = _compose(client, lv, "p_editor", "province", lv.w.province, "Lũ quét, bà con sơ tán ngay lên đồi cao.")
    client.post(f"/api/v1/bulletins/{b['id']}/submit", headers=lv.h("p_editor"))
    client.post(f"/api/v1/bulletins/{b['id']}/approve", headers=lv.h("p_approver"), json={"audio_sha256": b["audio_sha256"]})
    r = client.post(f"/api/v1/bulletins/{b['id']}/send", headers=lv.h("p_approver"),
                    json={"level": "emergency", "expires_at": (clock() + timedelta(hours=6)).isoformat(),
                          "communes": [lv.w.a]})
    assert r.status_code == 200, r.text
    [delivery] = r.json()["deliveries"]
    assert delivery["state"] == "scheduled" and {d["state"] for d in delivery["devices"]} == {"scheduled"}
    [item] = client.get(f"/api/v1/communes/{lv.w.a}/bulletin-inbox", headers=lv.h("cadre")).json()
    assert (item["level"], item["state"]) == ("emergency", "scheduled") and item["emergency_id"]
    with session_scope(client.app.state.engine) as s:
        row = s.get(EmergencyRow, item["emergency_id"])
        assert (row.status, row.started_at, row.source) == ("airing", clock(), "bulletin")
        assert set(row.villages) == {lv.w.village_a, lv.w.village_a2}  # every loudspeaker of the commune
    assert started == [(lv.w.a, f"e{item['emergency_id']}", clock())]
    refuse = client.post(f"/api/v1/bulletin-inbox/{item['id']}/refuse", headers=lv.h("cadre"), json={"reason": "x"})
    assert refuse.status_code == 409
    # the commune's cadre stops it on the emergency page, as any emergency
    assert client.post(f"/api/v1/emergencies/{item['emergency_id']}/cancel", headers=lv.h("cadre")).status_code == 200
