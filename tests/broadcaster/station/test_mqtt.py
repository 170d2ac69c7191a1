"""MQTT nudges through the real Mosquitto at 127.0.0.1:1883, and the generated broker files (password file +
ACL) enforced by a real Mosquitto we start on a free port: a device reads only its own topics."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from broadcaster.agent.nudges import MqttListener
from tests.broadcaster.station.device_rig import DEV, enroll_by_code, schedule
from tests.broadcaster.station.live import LinkedClock, LiveStation, wait_until
from tests.ports import free_port
from tests.station_rig import T0, make_item
from tests.tools import require_tool

pytestmark = pytest.mark.mqtt  # the station publishes to the shared Mosquitto at 127.0.0.1:1883


@pytest.fixture
def clock():
    return LinkedClock(T0)


@pytest.fixture
def mqtt_settings(settings):
    settings.mqtt_url = "mqtt://127.0.0.1:1883"
    return settings


@pytest.fixture
def live(mqtt_settings, clock, engine):
    from api.app import create_app

    station = LiveStation(lambda: create_app(mqtt_settings, clock=clock, start_worker=False)).start()
    yield station
    station.stop()




def test_timetable_change_reaches_agent_over_mqtt_retained(live, world, facts, clock, engine):
    from api.devices import setup
    from schedules.service import ScheduleService

    svc = ScheduleService(engine)
    live.app.state.schedules = svc
    setup.subscribe(live.app)
    assert live.app.state.mqtt.connected.is_set()
    item = make_item(engine, world, facts, clock, status="approved")
    with httpx.Client(base_url=live.url, headers=world.h("cadre")) as cadre:
        _, creds = enroll_by_code(cadre, world)
    assert creds["mqtt"]["url"] == "mqtt://127.0.0.1:1883"
    device_topic = f"loa/c{world.a}/device/{creds['device_id']}/sync"
    assert creds["mqtt"]["topics"] == [device_topic, f"loa/c{world.a}/village/v{world.village_a}/sync"]
    got: list[tuple[str, bool]] = []
    listener = MqttListener(creds["mqtt"]["url"], creds["device_id"], creds["token"], [device_topic],
                            lambda v, e: got.append((v, e)))
    listener.start()
    try:
        assert listener.connected.wait(5)
        schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=HOURLY")
        svc.materialize_commune(world.a, clock())
        assert wait_until(lambda: got)
        manifest = httpx.get(live.url + DEV + "/manifest", headers={"Authorization": f"Bearer {creds['token']}"})
        assert got[-1] == (manifest.json()["manifest"]["version"], False)
    finally:
        listener.stop()
    # a device that connects later gets the retained version at once
    late: list[tuple[str, bool]] = []
    again = MqttListener(creds["mqtt"]["url"], creds["device_id"], creds["token"], [device_topic],
                         lambda v, e: late.append((v, e)), client_id=creds["device_id"] + "-2")
    again.start()
    try:
        assert wait_until(lambda: late) and late[0] == got[-1]
    finally:
        again.stop()
        live.app.state.mqtt.publish(device_topic, None).wait_for_publish(5)  # leave the shared broker clean


def test_generated_acl_lets_a_device_read_only_its_topics(tmp_path, mqtt_settings, world, engine, client):
    from api.devices import setup as _  # noqa: F401
    from broadcaster.station.push.acl import write_broker_files
    from loa.db import session_scope

    # two devices enrolled with MQTT (the station knows a broker, so the Mosquitto hash is kept)
    client.app.state.broadcaster.mqtt_device_url = "mqtt://127.0.0.1:1883"
    _, a = enroll_by_code(client, world, name="A")
    _, b = enroll_by_code(client, world, village_id=world.village_a2, name="B")
    import tempfile

    broker_dir = tempfile.mkdtemp(prefix="loa-broker-")  # Mosquitto drops root for its own user: it must read these
    os.chmod(broker_dir, 0o755)
    with session_scope(engine) as s:
        acl, passwd = write_broker_files(s, broker_dir, "loa-station", "station-secret")
    for f in (acl, passwd):
        os.chmod(f, 0o644)
    assert f"user {a['device_id']}" in acl.read_text() and "pattern read loa/+/device/%u/sync" in acl.read_text()
    port = free_port()
    conf = acl.parent / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                    f"acl_file {acl}\npersistence false\nlog_dest none\n")
    proc = subprocess.Popen([require_tool("mosquitto", apt="mosquitto"), "-c", str(conf)],
                            stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        received: list[str] = []
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="a")
        sub.username_pw_set(a["device_id"], a["token"])
        sub.on_message = lambda c, u, m: received.append(m.topic)
        ok = threading.Event()
        sub.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and ok.set()
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        assert ok.wait(5), "device A could not log in with its token"
        own, village, other = a["mqtt"]["topics"][0], a["mqtt"]["topics"][1], b["mqtt"]["topics"][0]
        sub.subscribe([(own, 1), (village, 1), (other, 1), ("loa/#", 1)])
        # a device cannot publish a nudge to another device
        sub.publish(other, json.dumps({"version": "forged", "emergency": True}), qos=1, retain=True)
        time.sleep(0.3)
        station = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="station")
        station.username_pw_set("loa-station", "station-secret")
        station.connect("127.0.0.1", port)
        station.loop_start()
        for topic in (own, village, other):
            station.publish(topic, json.dumps({"version": "v1", "emergency": False}), qos=1).wait_for_publish(5)
        time.sleep(0.5)
        assert sorted(set(received)) == sorted({own, village})
        # a wrong password is refused
        bad = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bad")
        bad.username_pw_set(b["device_id"], a["token"])
        refused = threading.Event()
        bad.on_connect = lambda c, u, f, rc, p: rc.is_failure and refused.set()
        bad.connect("127.0.0.1", port)
        bad.loop_start()
        assert refused.wait(5)
        for c in (sub, station, bad):
            c.loop_stop()
            c.disconnect()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(broker_dir, ignore_errors=True)


def test_a_revoked_device_is_cut_off_the_broker_at_the_next_refresh(tmp_path, mqtt_settings, world, engine, client):
    """Revocation at scale: `loa broker-files --every 15 --hup-pid-file …` (docker-compose.yml) rewrites the password
    file without the device and sends the broker SIGHUP; Mosquitto then re-checks every connected client, so the
    revoked device's open connection is closed and it cannot log in again. The other device stays connected."""
    import tempfile

    from api.devices import setup as _  # noqa: F401
    from loa.db import session_scope
    from station.ops.broker import refresh_broker_files

    client.app.state.broadcaster.mqtt_device_url = "mqtt://127.0.0.1:1883"
    a_id, a = enroll_by_code(client, world, name="A")
    _, b = enroll_by_code(client, world, name="B")
    broker_dir = Path(tempfile.mkdtemp(prefix="loa-broker-"))
    os.chmod(broker_dir, 0o755)
    with session_scope(engine) as s:
        assert refresh_broker_files(s, broker_dir, "loa-station", "station-secret")
    for f in broker_dir.iterdir():
        os.chmod(f, 0o644)
    port = free_port()
    conf = broker_dir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {broker_dir / 'loa.passwd'}\n"
                    f"acl_file {broker_dir / 'loa.acl'}\npersistence false\nlog_dest none\n")
    proc = subprocess.Popen([require_tool("mosquitto", apt="mosquitto"), "-c", str(conf)], stderr=subprocess.PIPE)
    clients = []

    def connect(creds, name):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
        c.username_pw_set(creds["device_id"], creds["token"])
        state = {"up": threading.Event(), "down": threading.Event(), "refused": threading.Event()}
        c.on_connect = lambda cl, u, f, rc, p: (state["refused"] if rc.is_failure else state["up"]).set()
        c.on_disconnect = lambda *args: state["down"].set()
        c.reconnect_delay_set(1, 1)
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients.append(c)
        return state

    try:
        time.sleep(0.5)
        sa_, sb = connect(a, "box-a"), connect(b, "box-b")
        assert sa_["up"].wait(5) and sb["up"].wait(5)
        assert client.post(f"/api/v1/devices/{a_id}/revoke", headers=world.h("cadre")).status_code == 200
        with session_scope(engine) as s:
            assert refresh_broker_files(s, broker_dir, "loa-station", "station-secret")
        for f in broker_dir.iterdir():
            os.chmod(f, 0o644)
        assert a["device_id"] not in (broker_dir / "loa.passwd").read_text()
        os.kill(proc.pid, signal.SIGHUP)
        assert sa_["down"].wait(5), "the revoked device stayed connected after the reload"
        sa_["up"].clear()
        time.sleep(2.5)  # its client retries every second: every attempt is refused
        assert not sa_["up"].is_set()
        assert not sb["down"].is_set()  # the device still enrolled was not touched
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(broker_dir, ignore_errors=True)
