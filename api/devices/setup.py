"""Wiring the broadcaster into the API app: routers, the server-time header, the typed station container
(api/devices/station.py: keys and caches, the SSE hub, the nudger, the MQTT publisher) and the schedules
subscription."""
from __future__ import annotations

import logging

from fastapi import FastAPI

from api.devices.manage import router as manage_router
from api.devices.fastpath import DeviceFastPath
from api.devices.middleware import ServerTime
from api.devices.protocol import router as protocol_router
from api.devices.station import Station, station_of
from api.devices.streams import router as streams_router
from api.live.router import router as live_router
from broadcaster.signing import KeyRing
from broadcaster.station.commands import Commander
from broadcaster.station.context import StationContext
from broadcaster.station.identities import IdentityCache
from broadcaster.station.live.service import LiveService
from broadcaster.station.manifest_cache import GrantCache, ManifestCache
from broadcaster.station.nudges import Nudger
from broadcaster.station.push.sse import SseHub
from broadcaster.station.push.command_relay import CommandRelay
from broadcaster.station.push.sse_guard import StreamGuard
from broadcaster.station.standby import StandbyCache
from loa.settings import Settings
from broadcaster.station.streams import IcecastTarget, StreamHub
from broadcaster.station.relays import RelayRouting, RelayRunner

log = logging.getLogger("loa.broadcaster")


def install(app: FastAPI) -> None:
    st = app.state
    settings: Settings = st.settings
    engine, clock = st.engine, st.clock
    context = StationContext(
        keyring=KeyRing(settings.resolved_data_dir / "keys"), audio_dir=settings.audio_dir,
        mqtt_device_url=settings.mqtt_device_url or settings.mqtt_url,
        offline_after_s=settings.device_offline_after_s, timezone=settings.timezone, cache=ManifestCache(),
        identities=IdentityCache(), standby=StandbyCache(), grants=GrantCache(),
        relays=RelayRouting.from_settings(settings))
    identities = context.identities
    assert identities is not None
    hub = SseHub(max_per_device=settings.device_max_streams)
    clock = lambda: st.clock()  # noqa: E731  (tests move the app's clock; read it at each call)
    streams = StreamHub(ffmpeg=_ffmpeg(), icecast=IcecastTarget(
        settings.stream_icecast_source_url, settings.stream_icecast_listen_url or "")
        if settings.stream_icecast_source_url else None)
    commander = Commander(engine, context, clock, hub, None)
    station = Station(
        engine=engine, settings=settings, clock=clock, context=context, identities=identities, sse_hub=hub,
        # revocations made elsewhere (another replica, a re-enrollment) close streams within the re-check interval
        sse_guard=StreamGuard(engine, hub, interval_s=identities.recheck_s),
        command_relay=CommandRelay(engine, hub, interval_s=identities.recheck_s),
        nudger=Nudger(engine, context, clock, hub, None, background=not settings.device_nudge_sync),
        commander=commander, streams=streams,
        # scheduled relays: the hub pulls each radio once at its hours (broadcaster/station/relays.py)
        relay_runner=(RelayRunner(engine, streams, clock, allowed_hosts=settings.relay_allowed_hosts.split(","),
                                  interval_s=settings.relay_runner_interval_s)
                      if settings.relay_via_station and settings.relay_runner else None),
        live=LiveService(engine, streams, commander, clock, audio_dir=settings.audio_dir,
                         max_minutes=settings.live_max_minutes, link_timeout_s=settings.live_link_timeout_s,
                         first_input_timeout_s=settings.live_first_input_timeout_s))
    st.station = station
    # The same objects under their old names, for the rest of the app (web pages, schedules wiring, tests).
    st.broadcaster, st.identities, st.sse_hub, st.sse_guard = context, identities, hub, station.sse_guard
    st.command_relay, st.nudger, st.commander, st.mqtt = station.command_relay, station.nudger, station.commander, None
    st.streams, st.relay_runner, st.live = station.streams, station.relay_runner, station.live
    # Outermost, before FastAPI and every middleware: a 304 is most of a station's traffic. It stamps
    # X-Loa-Server-Time itself; what it does not answer passes on to the full stack unchanged.
    if hasattr(app, "full_stack"):  # api.app.StationApp
        app.fast_path = DeviceFastPath(app.full_stack, station, security_headers=True)
    else:  # a plain FastAPI: in front of its middleware stack
        build_stack = app.build_middleware_stack
        app.build_middleware_stack = lambda: DeviceFastPath(build_stack(), station)
    app.add_middleware(ServerTime, clock=lambda: station.clock())
    app.include_router(protocol_router)
    app.include_router(manage_router)
    app.include_router(streams_router)
    app.include_router(live_router)


def _ffmpeg() -> str:
    from content.audio.ffmpeg import ffmpeg_exe  # the one ffmpeg the station uses (imageio-ffmpeg's)

    return ffmpeg_exe()


def startup(app: FastAPI) -> None:
    st = station_of(app)
    st.context.active_key()  # create the signing key now, not in the first device request
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
        app.state.mqtt = st.mqtt
    subscribe(app)


def subscribe(app: FastAPI) -> None:
    """Listen to the schedules service's timetable changes (idempotent: call again once it exists)."""
    service = getattr(app.state, "schedules", None)
    st = station_of(app)
    if service is not None and st.nudger.timetable_changed not in service.on_timetable_changed:
        service.on_timetable_changed.append(st.nudger.timetable_changed)
    if service is not None and st.commander.rule_stopped not in service.on_rule_stopped:
        service.on_rule_stopped.append(st.commander.rule_stopped)
    if service is not None and st.commander.rule_started not in service.on_rule_started:
        service.on_rule_started.append(st.commander.rule_started)
    if service is not None and st.commander.plays_withdrawn not in service.on_plays_withdrawn:
        service.on_plays_withdrawn.append(st.commander.plays_withdrawn)


def shutdown(app: FastAPI) -> None:
    st = station_of(app)
    st.nudger.stop()
    st.sse_guard.stop()
    st.command_relay.stop()
    if st.relay_runner is not None:
        st.relay_runner.stop()
    st.live.shutdown()
    st.streams.close_all()
    if st.mqtt is not None:
        st.mqtt.stop()
