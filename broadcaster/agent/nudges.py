"""Listeners for "sync now" nudges: Server-Sent Events from the station, or MQTT through a broker.

A nudge carries only a version and an emergency flag; the listener calls `on_nudge(version, emergency)` and the
agent decides whether to sync. Both reconnect forever with backoff until `stop` is set.
"""
from __future__ import annotations

import json
import random
import threading
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlparse

from broadcaster.agent.client import DeviceRevoked, StationClient
from broadcaster.protocol.mqttloop import MqttLoop

if TYPE_CHECKING:  # paho-mqtt is optional at run time (imported when MQTT is configured)
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

OnNudge = Callable[[str, bool], None]


OnCommand = Callable[[dict[str, Any]], object]  # what it returns is not used


def command_topics(sync_topics: list[str]) -> list[str]:
    """The signed-command topic beside each sync topic (§8): `…/device/<id>/command`, `…/village/<v>/command`."""
    return [t[: -len("/sync")] + "/command" for t in sync_topics if t.endswith("/sync")]


def sse_loop(client: StationClient, on_nudge: OnNudge, stop: threading.Event,
             on_error: Callable[[str], None] = lambda msg: None, on_command: OnCommand | None = None,
             on_connect: Callable[[], object] | None = None) -> None:
    """`on_connect`: called once per stream the station answered (its first event), e.g. to beat at once
    after the link came back (a live session that started meanwhile is handed over in the reply)."""
    delay = 1.0
    while not stop.is_set():
        try:
            first = True
            for event in client.events(on_command=on_command):
                delay = 1.0
                if first and on_connect is not None:
                    on_connect()
                first = False
                on_nudge(str(event.get("version", "")), bool(event.get("emergency", False)))
                if stop.is_set():
                    return
        except DeviceRevoked:
            return
        except Exception as exc:  # noqa: BLE001 — any failure: wait and reconnect
            on_error(f"sse: {exc!r}")
        stop.wait(delay * random.uniform(0.8, 1.2))
        delay = min(30.0, delay * 2)


class MqttListener:
    """Subscribes to the device's and the village's retained sync topics (paho-mqtt, optional)."""

    def __init__(self, url: str, username: str, password: str, topics: list[str], on_nudge: OnNudge,
                 client_id: str | None = None, loop: MqttLoop | None = None,
                 on_command: OnCommand | None = None, on_connect: Callable[[], object] | None = None) -> None:
        import paho.mqtt.client as mqtt  # optional dependency: imported only when MQTT is configured
        from paho.mqtt.enums import CallbackAPIVersion

        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.topics = list(topics)
        self.on_nudge = on_nudge
        self.on_command = on_command
        self.on_connect = on_connect  # each (re)connection to the broker: the link is back
        self.command_topics = set(command_topics(topics)) if on_command is not None else set()
        self.topics += sorted(self.command_topics)
        self.seen: dict[str, str] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username)
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.client.on_disconnect = lambda *a: self.connected.clear()
        # One network thread shared by every listener of the process (simulations run a thousand), never
        # paho's select()-based loop_start (broken for sockets numbered above 1024: see mqttloop.py).
        self.loop = loop or MqttLoop()
        self._own_loop = loop is None

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        if not reason_code.is_failure:
            client.subscribe([(t, 1) for t in self.topics])
            self.connected.set()
            if self.on_connect is not None:
                self.on_connect()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.on_command is not None and message.topic in self.command_topics:  # (empty without on_command)
            try:
                envelope = json.loads(message.payload.decode("utf-8"))
            except ValueError:
                return
            self.on_command(envelope)  # verified, seq-checked and applied by the agent
            return
        try:
            body = json.loads(message.payload.decode("utf-8"))
            version = str(body.get("version", ""))
        except (ValueError, AttributeError):
            return
        # A village nudge counts once per version; the retained copy after a reconnect costs one 304 at most.
        if self.seen.get(message.topic) == version:
            return
        self.seen[message.topic] = version
        self.on_nudge(version, bool(body.get("emergency", False)))

    def start(self) -> None:
        self.loop.add(self.client, self.host, self.port, keepalive=60)

    def stop(self) -> None:
        self.loop.remove(self.client)
        if self._own_loop:
            self.loop.stop()
