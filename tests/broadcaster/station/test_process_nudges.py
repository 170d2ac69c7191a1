"""Timetable changes made outside the API (the `loa scheduler` and `loa worker` processes of the scale-out
topology) reach devices at once over MQTT, through the real Mosquitto at 127.0.0.1:1883."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

import pytest

from broadcaster.agent.nudges import MqttListener
from tests.broadcaster.station.device_rig import DEV, emergency, enroll_by_code, schedule
from tests.broadcaster.station.live import wait_until
from tests.station_rig import make_item

BROKER = "mqtt://127.0.0.1:1883"
pytestmark = pytest.mark.mqtt




@pytest.fixture
def device(client, world):
    """An enrolled device whose credentials name the broker, listening to its own topic like an agent."""
    client.app.state.broadcaster.mqtt_device_url = BROKER
    device_id, creds = enroll_by_code(client, world)
    topic = creds["mqtt"]["topics"][0]
    got: list[tuple[str, bool]] = []
    listener = MqttListener(BROKER, creds["device_id"], creds["token"], [topic], lambda v, e: got.append((v, e)))
    listener.start()
    assert listener.connected.wait(5)
    time.sleep(0.3)  # a retained message of an earlier run (same broker) would arrive now: start clean
    got.clear()
    yield device_id, creds, got
    listener.stop()
    from broadcaster.station.push.mqtt import MqttPublisher

    cleaner = MqttPublisher(BROKER)
    if cleaner.start():
        cleaner.publish(topic, None)
        cleaner.flush(5)
    cleaner.stop()


def test_an_emergency_started_in_another_process_is_nudged_with_the_manifest_it_will_fetch(
        client, world, facts, clock, engine, settings, device):
    from broadcaster.station.process_nudges import ProcessNudges
    from schedules.service import ScheduleService

    _, creds, got = device
    service = ScheduleService(engine)  # as `loa worker` has it: not the API's
    nudges = ProcessNudges.attach(service, engine, settings.model_copy(update={"mqtt_url": BROKER}), clock,
                                  background=False)
    assert nudges is not None
    try:
        item = make_item(engine, world, facts, clock, status="approved")
        emergency(engine, world, item, clock())
        service.materialize_commune(world.a, clock())
        assert wait_until(lambda: got), "no nudge reached the device"
    finally:
        nudges.close()
    version, is_emergency = got[-1]
    assert is_emergency is True
    r = client.get(f"{DEV}/manifest", headers={"Authorization": f"Bearer {creds['token']}"})
    assert r.status_code == 200
    manifest = r.json()["manifest"]
    assert manifest["version"] == version and manifest["emergency"] is True


def test_an_emergency_started_in_another_process_sends_its_signed_start_command_at_once(
        client, world, facts, clock, engine, settings):
    """A CAP emergency started by `loa worker` (not the API): the device's command topic carries the signed
    start command first (verified here with the keys the device pinned at enrollment), then the nudge."""
    from base64 import b64decode

    from broadcaster.protocol.command import verify_command
    from broadcaster.station.process_nudges import ProcessNudges
    from broadcaster.station.push.mqtt import MqttPublisher
    from schedules.service import ScheduleService

    client.app.state.broadcaster.mqtt_device_url = BROKER
    device_id, creds = enroll_by_code(client, world)
    pinned = {k["key_id"]: b64decode(k["public_key"]) for k in creds["station_keys"]}
    commands: list[dict] = []

    def ours(envelope: dict) -> None:
        # The suite's stations share one broker and all number their first commune 1: a test on another worker
        # may send its own emergency to loa/c1/village/v1/command meanwhile. A box refuses that one (a key it
        # never pinned); the question here is whether *this* station's command arrived.
        if envelope.get("key_id") in pinned:
            commands.append(envelope)

    listener = MqttListener(BROKER, creds["device_id"], creds["token"], creds["mqtt"]["topics"],
                            lambda v, e: None, on_command=ours)
    listener.start()
    assert listener.connected.wait(5)
    time.sleep(0.3)
    service = ScheduleService(engine)
    nudges = ProcessNudges.attach(service, engine, settings.model_copy(update={"mqtt_url": BROKER}), clock,
                                  background=False)
    assert nudges is not None
    try:
        item = make_item(engine, world, facts, clock, status="approved")
        rule = emergency(engine, world, item, clock())
        service.materialize_commune(world.a, clock(), started=[f"e{rule}"])
        assert wait_until(lambda: commands, 5), "no start command reached the device"
    finally:
        nudges.close()
        listener.stop()
        cleaner = MqttPublisher(BROKER)
        if cleaner.start():
            for topic in creds["mqtt"]["topics"]:
                cleaner.publish(topic, None)
            cleaner.flush(5)
        cleaner.stop()
    cmd = verify_command(commands[0], pinned, device_id=creds["device_id"], village_id=creds.get("village_id"),
                         now=clock())
    assert cmd.action == "start" and cmd.source == f"e{rule}" and cmd.entries


def test_scheduler_once_nudges_what_it_changed(client, world, facts, clock, engine, settings, device, monkeypatch):
    from typer.testing import CliRunner

    from station.cli.main import app as cli

    device_id, creds, got = device
    item = make_item(engine, world, facts, clock, status="approved")
    schedule(engine, world, [item], clock() + timedelta(minutes=5), rrule="FREQ=HOURLY")
    monkeypatch.setenv("LOA_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("LOA_MQTT_URL", BROKER)
    clock.now = datetime.now(clock.now.tzinfo)  # the scheduler process runs on the real clock: so does the API
    # the station's data directory (its signing keys): the scheduler signs what the API serves
    result = CliRunner().invoke(cli, ["scheduler", "--once", "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 0, result.output
    changed = json.loads(result.stdout.strip().splitlines()[-1])["materialize"]
    assert device_id in changed
    assert wait_until(lambda: got), "the scheduler process did not nudge"
    r = client.get(f"{DEV}/manifest", headers={"Authorization": f"Bearer {creds['token']}"})
    assert r.json()["manifest"]["version"] == got[-1][0]


def test_without_a_broker_it_does_nothing_and_says_so(engine, settings, clock, caplog):
    from broadcaster.station.process_nudges import ProcessNudges
    from schedules.service import ScheduleService

    service = ScheduleService(engine)
    with caplog.at_level(logging.WARNING, logger="loa.broadcaster.process_nudges"):
        assert ProcessNudges.attach(service, engine, settings, clock) is None
    assert service.on_timetable_changed == []
    assert "next heartbeat" in caplog.text
