"""Publishing nudges to Mosquitto: retained, QoS 1, one topic per device and one per village.

A nudge carries only a version, so a retained message is always safe to replay: a device that reconnects
gets the newest version at once and costs the station at most one 304."""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from broadcaster.protocol.mqttloop import MqttLoop

if TYPE_CHECKING:  # paho-mqtt is imported when the station publishes over MQTT
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger("loa.broadcaster.mqtt")


class MqttPublisher:
    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        # A client id of its own per process: several API replicas (or a restart overlapping the old process)
        # sharing one id make the broker close the older connection each time the other connects, forever.
        # Nothing is lost with a clean session: paho keeps unsent and unacknowledged messages in memory and
        # sends them again after a reconnect; the retained topics hold the state anyway.
        client_id = client_id or f"loa-station-{socket.gethostname()[:20]}-{os.getpid()}-{secrets.token_hex(3)}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)  # unlimited: nudges published while the broker is away are kept
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        # selectors, not paho's select()-based thread: a station's broker socket is often above fd 1024
        self.loop = MqttLoop()
        self.published = 0

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        if not reason_code.is_failure:
            self.connected.set()
        else:
            log.error("MQTT broker refused the station: %s", reason_code)

    def start(self, wait_s: float = 5.0) -> bool:
        self.loop.add(self.client, self.host, self.port, keepalive=30)
        return self.connected.wait(wait_s)

    def stop(self) -> None:
        self.loop.stop()

    def publish(self, topic: str, message: dict[str, Any] | None, retain: bool = True) -> mqtt.MQTTMessageInfo:
        """Queue one QoS 1 message; `None` clears the retained message of the topic."""
        payload = b"" if message is None else json.dumps(message, separators=(",", ":")).encode()
        self.published += 1
        self._last = self.client.publish(topic, payload, qos=1, retain=retain)
        return self._last

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the broker acknowledged the last message (QoS 1 acks come in order): before a process
        that just nudged exits. False if it did not within `timeout` (broker away)."""
        last = getattr(self, "_last", None)
        if last is None:
            return True
        try:
            last.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return bool(last.is_published())
