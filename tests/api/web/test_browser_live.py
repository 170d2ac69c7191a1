"""Phát trực tiếp from a phone, in real headless Chromium whose fake microphone plays loud speech, against a
real `loa serve`, with real agents (the agent's runner and FfmpegSink, decoding to timestamped PCM) enrolled in
two villages: the chosen village's loudspeakers sound and the other's do not, the page shows the on-air state
with its running time and a big stop, the stop silences them within 2 s, and the session is listed with its
recording. A secretary has no such button and the page refuses her."""
from __future__ import annotations

import subprocess
import time

import httpx
import numpy as np
import pytest

from content.audio.ffmpeg import ffmpeg_exe
from tests.broadcaster.station.agentproc import enrollment_code
from tests.broadcaster.station.live import wait_until
from tests.content import fixtures
from tests.broadcaster.station.streams.browserphone import go_live, log_in, phone
from tests.broadcaster.station.streams.liverig import LiveAgent
from tests.tools import chromium
from tests.api.web.web_rig import PASSWORD
from tests.api.web.served import loa_serve, station_data
from tests.api.web.test_browser import shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def station(tmp_path_factory, world_template):
    data, world = station_data(tmp_path_factory, world_template)
    with loa_serve(data) as base:
        yield base, world


@pytest.fixture(scope="module")
def mic(tmp_path_factory):
    """Loud speech (a cadre close to the phone), as the 16-bit WAV Chromium's fake microphone reads."""
    pcm = fixtures.variant("loud", 20.0)
    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(pcm.rate), "-ac", "1",
                    "-i", "pipe:0", "-ar", "48000", "-c:a", "pcm_s16le", str(path)],
                   input=np.ascontiguousarray(pcm.samples, dtype="<f4").tobytes(), check=True)
    return path


def test_a_cadre_goes_live_from_the_phone_and_stops(station, mic, tmp_path):
    base, world = station
    token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "cadre", "password": PASSWORD}).json()
    boxes: list[LiveAgent] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"},
                      timeout=30) as cadre, phone(chromium(), tmp_path / "profile", mic) as browser:
        try:
            for i, village in enumerate((world.village_a, world.village_a, world.village_a2)):
                _, code = enrollment_code(cadre, world, village)
                boxes.append(LiveAgent(base, tmp_path / f"box{i}", code, ffmpeg_exe()))
            assert all(wait_until(b.has_manifest, 30) for b in boxes)
            time.sleep(1.5)  # their SSE streams are open
            heard, other = boxes[:2], boxes[2]

            page = browser.new_page()
            log_in(page, base, "secretary", PASSWORD)
            page.goto(f"{base}/app/c/{world.a}")
            assert page.locator("#nav-live").count() == 0
            assert page.goto(f"{base}/app/c/{world.a}/live").status == 403

            log_in(page, base, "cadre", PASSWORD)
            page.goto(f"{base}/app/c/{world.a}")
            page.click("#nav-live")
            go_live(page, base, world.a, ["Ún Tà"])
            assert page.locator("#live-where").inner_text() == "Ún Tà"
            sid = cadre.get(f"/api/v1/communes/{world.a}/live").json()[0]["id"]
            play_id = f"live-l{sid}"
            assert wait_until(lambda: all(b.sink.of(play_id) and b.sink.of(play_id)[0].loud_seconds() > 3
                                          for b in heard), 25), [b.sink.takes for b in heard]
            assert page.locator("#live-elapsed").inner_text() >= "00:03"
            shot(page, "40-live-on-air")
            assert other.sink.of(play_id) == []

            t_stop = time.time()
            page.get_by_role("button", name="Dừng phát").click()
            for box in heard:
                take = box.sink.of(play_id)[0]
                assert wait_until(lambda t=take: t.stopped_wall or t.ended_wall, 3)
                assert min(x for x in (take.stopped_wall, take.ended_wall) if x) - t_stop <= 2.0
            page.wait_for_selector("#live-onair[hidden]", state="attached")
            page.wait_for_selector(f"#live-session-{sid} audio", timeout=15000)  # after its reload
            shot(page, "41-live-ended")
            row = cadre.get(f"/api/v1/live/{sid}").json()
            assert row["end_reason"] == "stopped" and row["recording"] and row["villages"] == [world.village_a]
        finally:
            for box in boxes:
                box.close()
