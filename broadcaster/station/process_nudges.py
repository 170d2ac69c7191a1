"""Nudges from the processes that are not the API: `loa scheduler` and `loa worker` change timetables too.

In the scale-out topology the API replicas nudge what the API changes (a saved schedule, a cadre's emergency).
The scheduler process changes timetables on its own (the rolling 72-hour window, expired or archived content, a
queued CAP emergency whose audio is now ready), and a worker starts a CAP emergency as soon as it rendered the
alert's audio. Without this, those devices heard of it only at their next heartbeat (its reply names the
manifest version): minutes, for an emergency that must air at once.

`attach` gives such a process the same Nudger and Commander the API uses (a CAP emergency started by a worker,
or a play withdrawn by the scheduler's re-materialization, gets its signed command at once, then the manifests),
and the same Nudger (build and sign the manifests, store them, then
publish `{version, emergency, at}`), publishing through MQTT, which reaches devices whatever API replica they
talk to. SSE connections live in the API processes, so without a broker this does nothing and says so.
The API replicas see the stored manifests and timetable stamps within their re-check interval
(broadcaster/station/identities.py), so a nudged device's fetch finds the new manifest.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from broadcaster.signing import KeyRing
from broadcaster.station.context import StationContext
from broadcaster.station.standby import StandbyCache
from broadcaster.station.manifest_cache import ManifestCache
from broadcaster.station.nudges import Nudger
from broadcaster.station.push.sse import SseHub

log = logging.getLogger("loa.broadcaster.process_nudges")


class ProcessNudges:
    """A Nudger publishing through MQTT, listening to one ScheduleService. `close()` flushes and disconnects."""

    def __init__(self, nudger: Nudger, mqtt: Any) -> None:
        self.nudger, self.mqtt = nudger, mqtt

    @classmethod
    def attach(cls, service: Any, engine: Engine, settings: Any, clock: Callable[[], datetime],
               background: bool = True) -> ProcessNudges | None:
        """Listen to `service` (a schedules.service.ScheduleService). None when no broker is configured."""
        if not settings.mqtt_url:
            log.warning("LOA_MQTT_URL is not set: timetable changes made in this process reach devices at their "
                        "next heartbeat, not at once")
            return None
        from broadcaster.station.push.mqtt import MqttPublisher

        from broadcaster.station.relays import RelayRouting

        ctx = StationContext(keyring=KeyRing(settings.resolved_data_dir / "keys"), audio_dir=settings.audio_dir,
                             mqtt_device_url=settings.mqtt_device_url or settings.mqtt_url,
                             offline_after_s=settings.device_offline_after_s, timezone=settings.timezone,
                             cache=ManifestCache(), standby=StandbyCache(),
                             relays=RelayRouting.from_settings(settings))
        mqtt = MqttPublisher(settings.mqtt_url, settings.mqtt_username, settings.mqtt_password)
        if not mqtt.start():
            log.warning("MQTT broker %s not reachable yet; nudges are queued until it is", settings.mqtt_url)
        hub = SseHub()
        nudger = Nudger(engine, ctx, clock, hub, mqtt, background=background)
        service.on_timetable_changed.append(nudger.timetable_changed)
        from broadcaster.station.commands import Commander

        commander = Commander(engine, ctx, clock, hub, mqtt)
        service.on_rule_stopped.append(commander.rule_stopped)
        service.on_rule_started.append(commander.rule_started)
        service.on_plays_withdrawn.append(commander.plays_withdrawn)
        return cls(nudger, mqtt)

    def close(self, timeout: float = 30.0) -> None:
        self.nudger.flush(timeout)
        self.nudger.stop()
        if not self.mqtt.flush(timeout):
            log.warning("the broker did not acknowledge every nudge before this process stopped")
        self.mqtt.stop()
