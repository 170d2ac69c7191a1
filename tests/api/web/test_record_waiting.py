"""Recording through the page while every mastering slot is busy: the upload is kept, the item page says it
waits ("Đang chờ đến lượt"), and once the job ran the page plays the mastered audio."""
from __future__ import annotations

from tests.api.web.web_rig import login


def test_a_recording_waits_for_its_turn_on_the_page(client, app, world, mastered, settings, clock):
    from content.slots import slots_for
    from station.handlers import default_handlers
    from loa.jobs.worker import Worker

    _, _, wav = mastered
    token = login(client, "secretary")
    slots = slots_for(settings.max_concurrent_masterings)
    for _ in range(settings.max_concurrent_masterings):
        assert slots.acquire(timeout=120)
    try:
        r = client.post(f"/app/c/{world.a}/recordings", data={
            "csrf": token, "title": "Họp thôn", "transcript": "Mời bà con đi họp", "language": "vi"},
            files={"file": ("hop.wav", wav, "audio/wav")}, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = client.get(r.headers["location"])
        assert "Đang chờ đến lượt" in page.text and "<audio" not in page.text
    finally:
        for _ in range(settings.max_concurrent_masterings):
            slots.release()
    assert Worker(app.state.engine, settings, default_handlers(), clock).run_until_idle() == 1
    page = client.get(r.headers["location"])
    assert "Đang chờ đến lượt" not in page.text and "<audio" in page.text
