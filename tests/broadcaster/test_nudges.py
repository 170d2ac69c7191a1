from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from broadcaster.agent.client import StationClient
from broadcaster.agent.nudges import MqttListener, sse_loop
from tests.broadcaster.fileserver import FileServer


def test_sse_stream_parsed_into_sync_nudges(tmp_path):
    (tmp_path / "events").write_text(
        ": ping\n\n"
        "event: sync\ndata: {\"version\": \"m-1\", \"emergency\": false}\n\n"
        "event: other\ndata: {\"version\": \"ignored\"}\n\n"
        "event: sync\ndata: {\"version\": \"m-2\",\ndata:  \"emergency\": true}\n\n"
    )
    server = FileServer(tmp_path)
    client = StationClient(server.url, "tok", retries=0)
    try:
        assert list(client.events()) == [{"version": "m-1", "emergency": False},
                                         {"version": "m-2", "emergency": True}]
        got = []
        stop = threading.Event()

        def on_nudge(version, emergency):
            got.append((version, emergency))
            if len(got) >= 3:
                stop.set()

        t = threading.Thread(target=sse_loop, args=(client, on_nudge, stop), daemon=True)
        t.start()
        t.join(10)
        assert got[:3] == [("m-1", False), ("m-2", True), ("m-1", False)]  # reconnected after the stream ended
    finally:
        client.close()
        server.close()


@pytest.mark.mqtt
def test_mqtt_retained_version_reaches_the_device_once_per_version():
    import paho.mqtt.client as mqtt

    commune = "t" + uuid.uuid4().hex[:8]
    device_topic = f"loa/{commune}/device/dev_1/sync"
    village_topic = f"loa/{commune}/village/unta/sync"
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)  # the `mqtt` marker skips (fails in CI) when no broker runs there
    pub.loop_start()
    pub.publish(device_topic, json.dumps({"version": "m-1", "emergency": False}), qos=1, retain=True).wait_for_publish()
    got: list[tuple[str, bool]] = []
    seen = threading.Event()

    def on_nudge(version, emergency):
        got.append((version, emergency))
        seen.set()

    listener = MqttListener("mqtt://127.0.0.1:1883", "dev_1", "token", [device_topic, village_topic], on_nudge)
    listener.start()
    try:
        assert seen.wait(10), "the retained message never arrived"
        assert listener.connected.is_set()
        seen.clear()
        pub.publish(village_topic, json.dumps({"version": "v-7", "emergency": True}), qos=1, retain=True).wait_for_publish()
        pub.publish(village_topic, json.dumps({"version": "v-7", "emergency": True}), qos=1).wait_for_publish()
        assert seen.wait(10)
        time.sleep(0.5)
        assert got == [("m-1", False), ("v-7", True)]  # the repeat of v-7 was ignored
    finally:
        listener.stop()
        for topic in (device_topic, village_topic):
            pub.publish(topic, b"", qos=1, retain=True).wait_for_publish()  # clear the retained messages
        pub.loop_stop()
        pub.disconnect()
