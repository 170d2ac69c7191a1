"""Compose and Record through the pages: the words preview is the normalizer's output, the listen is real
audio, saving renders in the background, and bad input leaves nothing behind."""
from __future__ import annotations

import io

from tests.api.web.web_rig import form_token, login


def test_words_preview_is_the_normalizer_output(client, world):
    from content.textnorm import normalize

    token = login(client, "secretary")
    text = "Bà con cài VNeID trước 15/8/2025, gọi 0912 345 678."
    r = client.post(f"/app/c/{world.a}/compose/words", json={"text": text}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    assert r.json()["sentences"] == normalize(text).sentences
    assert "vê nê ai đi" in " ".join(r.json()["sentences"])
    # Southern voice, southern numbers (the page sends the chosen voice).
    r = client.post(f"/app/c/{world.a}/compose/words", json={"text": "105 người", "voice": "vi-vn-x-south"},
                    headers={"X-CSRF-Token": token})
    assert "lẻ" in r.json()["sentences"][0]


def test_words_preview_needs_csrf_and_membership(client, world):
    token = login(client, "secretary")
    assert client.post(f"/app/c/{world.a}/compose/words", json={"text": "a"}).status_code == 403
    assert client.post(f"/app/c/{world.b}/compose/words", json={"text": "a"},
                       headers={"X-CSRF-Token": token}).status_code == 404


def test_no_js_preview_renders_the_words(client, world):
    token = login(client, "secretary")
    r = client.post(f"/app/c/{world.a}/compose", data={"csrf": token, "text": "Họp lúc 7h30", "action": "preview"})
    assert r.status_code == 200 and "bảy giờ ba mươi phút" in r.text
    assert client.get(f"/api/v1/communes/{world.a}/content").json()["total"] == 0  # a preview saves nothing


def test_listen_returns_real_audio(client, world):
    from content.audio.ffmpeg import decode_to_pcm

    token = login(client, "secretary")
    r = client.post(f"/app/c/{world.a}/compose/listen",
                    json={"text": "Xin chào bà con", "engine": "espeak", "voice": "vi", "speed": 1.0},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"
    assert r.content[:4] == b"OggS"
    pcm = decode_to_pcm(r.content, rate=16000, mono=True)
    assert 0.5 < pcm.duration_s < 10 and float(abs(pcm.samples).max()) > 0.05
    bad = client.post(f"/app/c/{world.a}/compose/listen", json={"text": "Xin chào", "engine": "espeak",
                                                                 "voice": "no-such-voice"},
                      headers={"X-CSRF-Token": token})
    assert bad.status_code == 422 and bad.json()["code"] == "tts_failed"


def test_compose_save_render_submit(client, app, world, clock):
    token = login(client, "secretary")
    page = client.get(f"/app/c/{world.a}/compose")
    assert 'value="vi-vn-x-south"' in page.text and form_token(page.text) == token
    r = client.post(f"/app/c/{world.a}/compose", data={
        "csrf": token, "title": "Cài VNeID", "text": "Bà con cài VNeID trước ngày 30.", "kind": "guidance",
        "engine": "espeak", "voice": "vi", "speed": "1.0", "village_id": str(world.village_a),
        "expires_on": "2026-04-30", "action": "save"}, follow_redirects=False)
    assert r.status_code == 303
    item_url = r.headers["location"]
    item_id = int(item_url.rsplit("/", 1)[1])
    pending = client.get(item_url)
    assert 'http-equiv="refresh"' in pending.text  # rendering: the page refreshes itself
    assert f'action="/app/items/{item_id}/submit"' not in pending.text  # no audio yet: nothing to submit
    assert app.state.worker.run_until_idle(clock()) == 1  # the real render job: espeak, mastering, store
    ready = client.get(item_url)
    assert 'http-equiv="refresh"' not in ready.text and f'src="/api/v1/content/{item_id}/audio?v=' in ready.text
    assert "vê nê ai đi" in ready.text  # the words that were spoken
    assert f'action="/app/items/{item_id}/submit"' in ready.text
    item = client.get(f"/api/v1/content/{item_id}").json()
    assert item["village_id"] == world.village_a
    assert item["expires_at"] == "2026-04-30T16:59:59Z"  # the end of that local day (UTC+7)
    r = client.post(f"/app/items/{item_id}/submit", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/content/{item_id}").json()["status"] == "submitted"


def test_compose_empty_text_is_refused(client, world):
    token = login(client, "secretary")
    r = client.post(f"/app/c/{world.a}/compose", data={"csrf": token, "title": "x", "text": "", "action": "save"})
    assert r.status_code == 422 and "Hãy viết nội dung" in r.text
    assert client.get(f"/api/v1/communes/{world.a}/content").json()["total"] == 0


def test_record_upload_with_transcript_and_pair(client, app, world, mastered, settings):
    _, _, wav = mastered
    token = login(client, "secretary")
    # First the Vietnamese announcement, then its Giáy recording attached as the pair.
    r = client.post(f"/app/c/{world.a}/recordings", data={
        "csrf": token, "title": "Họp thôn", "transcript": "Mời bà con đi họp", "language": "vi"},
        files={"file": ("hop.wav", wav, "audio/wav")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    vi_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/app/c/{world.a}/record", params={"pair": vi_id})
    assert f'<option value="{vi_id}" selected' in page.text and '<option value="pcc" selected' in page.text
    r = client.post(f"/app/c/{world.a}/recordings", data={
        "csrf": token, "title": "Họp thôn (Giáy)", "transcript": "Lời tiếng Giáy", "language": "pcc",
        "pair_item_id": str(vi_id), "village_id": str(world.village_a)},
        files={"file": ("giay.wav", wav, "audio/wav")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    pcc_id = int(r.headers["location"].rsplit("/", 1)[1])
    item = client.get(f"/api/v1/content/{pcc_id}").json()
    assert item["pair_item_id"] == vi_id and item["language"] == "pcc" and item["audio"]["size_bytes"] > 0
    assert "Họp thôn (Giáy)" in client.get(f"/app/items/{vi_id}").text  # the Vietnamese item shows its pair


def test_record_refusals_leave_nothing(client, world, settings, mastered):
    _, _, wav = mastered
    token = login(client, "secretary")
    before = sorted(p.name for p in settings.audio_dir.rglob("*")) if settings.audio_dir.exists() else []
    r = client.post(f"/app/c/{world.a}/recordings", data={"csrf": token, "title": "x", "transcript": ""},
                    files={"file": ("a.wav", wav, "audio/wav")})
    assert r.status_code == 422 and "lời của bản ghi âm" in r.text.lower()
    r = client.post(f"/app/c/{world.a}/recordings", data={"csrf": token, "title": "x", "transcript": "y"},
                    files={"file": ("a.wav", io.BytesIO(b"RIFF not really audio at all" * 50), "audio/wav")})
    assert r.status_code in (415, 422) and 'class="error"' in r.text
    r = client.post(f"/app/c/{world.a}/recordings", data={"csrf": "nope", "title": "x", "transcript": "y"},
                    files={"file": ("a.wav", wav, "audio/wav")})
    assert r.status_code == 403
    assert client.get(f"/api/v1/communes/{world.a}/content").json()["total"] == 0
    after = sorted(p.name for p in settings.audio_dir.rglob("*")) if settings.audio_dir.exists() else []
    assert after == before and not list(settings.tmp_dir.glob("upload-*"))


def test_library_imports_the_guidance_pack_as_drafts(client, world):
    from content.packs import builtin_packs

    pack = builtin_packs()[0]
    token = login(client, "secretary")
    page = client.get(f"/app/c/{world.a}/library")
    assert f"/packs/{pack.id}/import" in page.text
    assert client.post(f"/app/c/{world.a}/packs/{pack.id}/import", data={"csrf": "forged"},
                       follow_redirects=False).status_code == 403
    r = client.post(f"/app/c/{world.a}/packs/{pack.id}/import", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    items = client.get(f"/api/v1/communes/{world.a}/content?limit=100").json()["items"]
    assert sorted(i["title"] for i in items) == sorted(e.title for e in pack.items)
    assert {i["status"] for i in items} == {"draft"}
    # Another commune's library is not reachable, and a village head sees no import button.
    assert client.post(f"/app/c/{world.b}/packs/{pack.id}/import", data={"csrf": token},
                       follow_redirects=False).status_code == 404
    client.cookies.clear()
    login(client, "village_head")
    assert f"/packs/{pack.id}/import" not in client.get(f"/app/c/{world.a}/library").text
