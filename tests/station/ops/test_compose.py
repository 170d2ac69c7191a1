"""docker-compose.yml checked without a Docker engine: the Compose Specification schema (vendored, see
COMPOSE_SPEC.md), Debian's `docker-compose config` when installed (.ci/run installs it), every `command:` is a
real `loa` command line, the topology holds (2+ API replicas, exactly one scheduler, workers, one shared data
volume), every LOA_* variable is a real setting; and deploy/mosquitto.conf runs in the real Mosquitto with the
files `loa broker-files` writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from loa.settings import Settings
from tests.station.ops.proc import ROOT, stop, wait_port
from tests.ports import free_port
from tests.tools import require_tool

COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {"LOA_DB_PASSWORD": "pg-secret", "LOA_MQTT_PASSWORD": "mqtt-secret", "LOA_METRICS_TOKEN": "metrics-secret",
           "ICECAST_SOURCE_PASSWORD": "ice-source", "ICECAST_ADMIN_PASSWORD": "ice-admin",
           "LOA_STREAM_ICECAST_LISTEN_URL": "http://dai.example.vn:8000"}
LOA = Path(sys.executable).with_name("loa")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))


def test_compose_file_matches_the_compose_specification(compose):
    schema = json.loads((Path(__file__).with_name("compose_spec.json")).read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema)  # the file's "$schema" URL is not a known draft id
    validator.validate(compose)
    # a schema error is caught: the check is real
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**compose, "services": {"api-1": {"image": "x", "restart": ["always"]}}})


def test_docker_compose_config_accepts_it():
    exe = require_tool("docker-compose", apt="docker-compose",
                       why="kiểm tra docker-compose.yml / to validate docker-compose.yml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")}
    ok = subprocess.run([exe, "-f", str(COMPOSE), "config", "-q"], env={**env, **SECRETS}, cwd=ROOT,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    # the secrets are required: without them the file does not resolve
    missing = subprocess.run([exe, "-f", str(COMPOSE), "config", "-q"], env=env, cwd=ROOT, capture_output=True,
                             text=True)
    assert missing.returncode != 0 and "LOA_DB_PASSWORD" in missing.stderr


def _commands(compose: dict) -> dict[str, list[str]]:
    return {name: svc["command"] for name, svc in compose["services"].items() if "command" in svc}


def test_every_command_is_a_real_loa_command_line(compose):
    commands = _commands(compose)
    assert commands
    for name, command in commands.items():
        assert command[0] == "loa", name
        # --help is eager but every option before it is still parsed: a wrong option name fails here
        r = subprocess.run([str(LOA), *command[1:], "--help"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{name}: {' '.join(command)}\n{r.stderr}"
    bad = subprocess.run([str(LOA), "serve", "--no-such-option", "--help"], capture_output=True, text=True)
    assert bad.returncode != 0


def test_topology(compose):
    services = compose["services"]
    by_cmd: dict[str, list[str]] = {}
    for name, command in _commands(compose).items():
        by_cmd.setdefault(command[1], []).append(name)
    apis = by_cmd["serve"]
    assert len(apis) >= 2
    assert by_cmd["scheduler"] == ["scheduler"]
    assert services["scheduler"].get("deploy", {}).get("replicas", 1) == 1
    assert by_cmd["worker"]
    for name in apis + by_cmd["worker"] + by_cmd["scheduler"]:
        env = services[name]["environment"]
        assert env["LOA_SCHEDULER_ENABLED"] == "false" and env["LOA_WORKER_ENABLED"] == "false", name
        assert env["LOA_DATABASE_URL"].startswith("postgresql://"), name
        assert "loa-data:/var/lib/loa" in services[name]["volumes"], name
        assert env["LOA_DATA_DIR"] == "/var/lib/loa"
    proxy = services["proxy"]
    assert "loa-data:/var/lib/loa:ro" in proxy["volumes"]
    assert proxy["environment"]["LOA_UPSTREAMS"].split() == [f"{a}:8000" for a in apis]
    assert {"db", "mosquitto", "proxy", "icecast"} <= set(services)
    # every replica's stream hub pushes to the icecast service with its source password (issue 15)
    for name in apis:
        env = services[name]["environment"]
        assert env["LOA_STREAM_ICECAST_SOURCE_URL"].endswith("@icecast:8000"), name
        assert "${ICECAST_SOURCE_PASSWORD" in env["LOA_STREAM_ICECAST_SOURCE_URL"], name
    runners = [name for name in apis if services[name]["environment"].get("LOA_RELAY_RUNNER", "true") != "false"]
    assert len(runners) == 1, runners  # one replica pulls each radio and feeds its Icecast mount
    assert services["icecast"]["build"] == "./deploy/icecast"
    assert "${ICECAST_SOURCE_PASSWORD" in services["icecast"]["environment"]["ICECAST_SOURCE_PASSWORD"]


def test_every_loa_variable_is_a_setting(compose):
    fields = {f"LOA_{name.upper()}" for name in Settings.model_fields}
    used = set()
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        if name in ("proxy",):
            continue  # the Caddyfile's own variables
        used |= {k for k in env if k.startswith("LOA_")}
    assert used and used <= fields, used - fields
    example = (ROOT / "deploy" / "loa.env.example").read_text("utf-8")
    for line in example.splitlines():
        key = line.lstrip("# ").split("=", 1)[0]
        if key.startswith("LOA_") and "=" in line and key not in ("LOA_DB_PASSWORD", "LOA_SITE_ADDRESS",
                                                                  "LOA_IMAGE"):
            assert key in fields, key


def test_mosquitto_conf_with_generated_broker_files(tmp_path, engine, client, world, settings, clock):
    """The repo's mosquitto.conf (paths moved to a temp dir) in the real broker: the station's user and an
    enrolled device log in with what `loa broker-files` wrote; anonymous and a wrong password do not."""
    import paho.mqtt.client as mqtt

    from station.ops.broker import refresh_broker_files
    from loa.db import session_scope
    from tests.broadcaster.station.device_rig import enroll_by_code

    from starlette.testclient import TestClient

    from api.app import create_app

    with_broker = settings.model_copy(update={"mqtt_device_url": "mqtt://127.0.0.1:1883"})
    with TestClient(create_app(with_broker, clock=clock)) as station:  # devices get a broker password
        _, creds = enroll_by_code(station, world)
    files = tmp_path / "loa"
    with session_scope(engine) as s:
        assert refresh_broker_files(s, files, "loa-station", "mqtt-secret")
        assert not refresh_broker_files(s, files, "loa-station", "mqtt-secret")  # unchanged: no rewrite, no HUP
    port = free_port()
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text("utf-8")
    conf = (conf.replace("/mosquitto/loa/", f"{files}/").replace("/mosquitto/data/", f"{tmp_path}/")
            .replace("listener 1883", f"listener {port} 127.0.0.1"))
    if os.geteuid() == 0:  # as root Mosquitto drops to user `mosquitto`, who cannot enter pytest's temp dirs
        import pwd

        conf += f"\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
    (tmp_path / "mosquitto.conf").write_text(conf)
    broker = subprocess.Popen([require_tool("mosquitto", apt="mosquitto"), "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_port(port, 15, broker)

        def login(user, password) -> bool:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{time.monotonic_ns()}")
            if user:
                c.username_pw_set(user, password)
            result = {}
            c.on_connect = lambda cl, u, f, rc, p: result.setdefault("rc", rc)
            c.connect("127.0.0.1", port)
            deadline = time.monotonic() + 5
            while "rc" not in result and time.monotonic() < deadline:
                c.loop(0.1)
            c.disconnect()
            return "rc" in result and not result["rc"].is_failure

        assert login("loa-station", "mqtt-secret")
        assert login(creds["device_id"], creds["token"])
        assert not login(None, None)
        assert not login("loa-station", "wrong")
    finally:
        stop(broker)
