"""Wiring the broadcaster into the API app: routers, the server-time header, the process-wide station
context (keys, manifest cache), the SSE hub, the nudger, the MQTT publisher and the schedules subscription."""
from __future__ import annotations

import logging

from fastapi import FastAPI

from api.devices.manage import router as manage_router
from api.devices.fastpath import DeviceFastPath
from api.devices.middleware import ServerTime
from api.devices.protocol import router as protocol_router
from api.devices.streams import router as streams_router
from api.live.router import router as live_router
from broadcaster.signing import KeyRing
from broadcaster.station.commands import Commander
from broadcaster.station.context import StationContext
from broadcaster.station.identities import IdentityCache
from broadcaster.station.live.service import LiveService
from broadcaster.station.manifests import GrantCache, ManifestCache
from broadcaster.station.nudges import Nudger
from broadcaster.station.push.sse import SseHub
from broadcaster.station.push.command_relay import CommandRelay
from broadcaster.station.push.sse_guard import StreamGuard
from broadcaster.station.standby import StandbyCache
from broadcaster.station.streams import IcecastTarget, StreamHub
from broadcaster.station.relays import RelayRouting, RelayRunner

log = logging.getLogger("loa.broadcaster")


def install(app: FastAPI) -> None:
    st = app.state
    settings = st.settings
    st.broadcaster = StationContext(
        keyring=KeyRing(settings.resolved_data_dir / "keys"), audio_dir=settings.audio_dir,
        mqtt_device_url=settings.mqtt_device_url or settings.mqtt_url,
        offline_after_s=settings.device_offline_after_s, timezone=settings.timezone, cache=ManifestCache(),
        identities=IdentityCache(), standby=StandbyCache(), grants=GrantCache(),
        relays=RelayRouting.from_settings(settings))
    st.identities = st.broadcaster.identities
    st.sse_hub = SseHub(max_per_device=settings.device_max_streams)
    # revocations made elsewhere (another replica, a re-enrollment) close streams within the re-check interval
    st.sse_guard = StreamGuard(st.engine, st.sse_hub, interval_s=st.identities.recheck_s)
    st.command_relay = CommandRelay(st.engine, st.sse_hub, interval_s=st.identities.recheck_s)
    st.mqtt = None
    st.streams = StreamHub(ffmpeg=_ffmpeg(), icecast=IcecastTarget(
        settings.stream_icecast_source_url, settings.stream_icecast_listen_url or "")
        if settings.stream_icecast_source_url else None)
    # scheduled relays: the hub pulls each radio once at its hours (broadcaster/station/relays.py)
    st.relay_runner = (RelayRunner(st.engine, st.streams, lambda: st.clock(),
                                   allowed_hosts=settings.relay_allowed_hosts.split(","))
                       if settings.relay_via_station and settings.relay_runner else None)
    st.nudger = Nudger(st.engine, st.broadcaster, st.clock, st.sse_hub, None,
                       background=not settings.device_nudge_sync)
    st.commander = Commander(st.engine, st.broadcaster, st.clock, st.sse_hub, None)
    st.live = LiveService(st.engine, st.streams, st.commander, lambda: st.clock(), audio_dir=settings.audio_dir,
                          max_minutes=settings.live_max_minutes, link_timeout_s=settings.live_link_timeout_s)
    # Outermost, before FastAPI and every middleware: a 304 is most of a station's traffic. It stamps
    # X-Loa-Server-Time itself; what it does not answer passes on to the full stack unchanged.
    if hasattr(app, "full_stack"):  # api.app.StationApp
        app.fast_path = DeviceFastPath(app.full_stack, st)
    else:  # a plain FastAPI: in front of its middleware stack
        build_stack = app.build_middleware_stack
        app.build_middleware_stack = lambda: DeviceFastPath(build_stack(), st)
    app.add_middleware(ServerTime, clock=lambda: st.clock())
    app.include_router(protocol_router)
    app.include_router(manage_router)
    app.include_router(streams_router)
    app.include_router(live_router)


def _ffmpeg() -> str:
    from content.audio.ffmpeg import ffmpeg_exe  # the one ffmpeg the station uses (imageio-ffmpeg's)

    return ffmpeg_exe()


def startup(app: FastAPI) -> None:
    st = app.state
    st.broadcaster.active_key()  # create the signing key now, not in the first device request
    st.sse_guard.start()
    st.command_relay.start()
    if st.relay_runner is not None:
        st.relay_runner.start()
    if st.settings.mqtt_url:
        from broadcaster.station.push.mqtt import MqttPublisher

        st.mqtt = MqttPublisher(st.settings.mqtt_url, st.settings.mqtt_username, st.settings.mqtt_password)
        if not st.mqtt.start():
            log.warning("MQTT broker %s not reachable yet; nudges are queued until it is", st.settings.mqtt_url)
        st.nudger.mqtt = st.mqtt
        st.commander.mqtt = st.mqtt
    subscribe(app)


def subscribe(app: FastAPI) -> None:
    """Listen to the schedules service's timetable changes (idempotent: call again once it exists)."""
    service = getattr(app.state, "schedules", None)
    if service is not None and app.state.nudger.timetable_changed not in service.on_timetable_changed:
        service.on_timetable_changed.append(app.state.nudger.timetable_changed)
    if service is not None and app.state.commander.rule_stopped not in service.on_rule_stopped:
        service.on_rule_stopped.append(app.state.commander.rule_stopped)
    if service is not None and app.state.commander.rule_started not in service.on_rule_started:
        service.on_rule_started.append(app.state.commander.rule_started)
    if service is not None and app.state.commander.plays_withdrawn not in service.on_plays_withdrawn:
        service.on_plays_withdrawn.append(app.state.commander.plays_withdrawn)


def shutdown(app: FastAPI) -> None:
    st = app.state
    st.nudger.stop()
    st.sse_guard.stop()
    st.command_relay.stop()
    if st.relay_runner is not None:
        st.relay_runner.stop()
    st.live.shutdown()
    st.streams.close_all()
    if st.mqtt is not None:
        st.mqtt.stop()
