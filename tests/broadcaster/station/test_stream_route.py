"""The stream hub's device route: an enrolled device of the mount's commune listens (MP3 from now on); no token
is 401, another commune's device or an unknown mount is 404."""
from __future__ import annotations

import threading
import time

from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code
from tests.broadcaster.station.streams.audio import decode, speech_webm


def _feed_then_close(mount, data: bytes) -> threading.Thread:
    def run() -> None:
        time.sleep(0.5)  # the listener is connected
        for i in range(0, len(data), 4000):
            mount.feed(data[i:i + 4000])
        mount.close(grace_s=10)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_an_enrolled_device_listens_to_its_communes_mount(app, client, world):
    _, creds = enroll_by_code(client, world)
    hub = app.state.streams
    mount = hub.open("live-route", source=None, commune_id=world.a)
    url = hub.url_for("live-route")
    assert url == f"{DEV}/streams/live-route"
    assert client.get(url).status_code == 401
    feeder = _feed_then_close(mount, speech_webm("loud", 6.0))
    with client.stream("GET", url, headers=dh(creds)) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
        body = b"".join(r.iter_bytes())
    feeder.join(10)
    assert len(decode(body)) / 44100 > 4
    assert client.get(url, headers=dh(creds)).status_code == 404  # ended: gone


def test_another_communes_mount_is_not_found(app, client, world):
    _, creds = enroll_by_code(client, world)
    mount = app.state.streams.open("other", source=None, commune_id=world.b)
    try:
        r = client.get(f"{DEV}/streams/other", headers=dh(creds))
        assert r.status_code == 404 and r.json()["code"] == "stream_not_found"
        assert client.get(f"{DEV}/streams/nothing", headers=dh(creds)).status_code == 404
    finally:
        mount.close()
