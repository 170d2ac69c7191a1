"""`loa keys list|rotate|retire`, `loa broker-files` and `loa worker --until-idle` on a real station."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from station.cli.main import app as cli


@pytest.fixture
def run(settings, db_url, monkeypatch):
    monkeypatch.setenv("LOA_DATABASE_URL", db_url)
    runner = CliRunner()

    def invoke(*args: str, **env: str):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return runner.invoke(cli, [*args, "--data-dir", str(settings.resolved_data_dir)])
    return invoke


def test_keys_rotate_then_retire(run, settings):
    r = run("keys", "list")
    assert r.exit_code == 0, r.output
    first = r.stdout.split()[1]
    r = run("keys", "rotate")
    assert r.exit_code == 0 and r.stdout.strip().startswith(f"{first} -> ")
    second = r.stdout.split()[-1]
    listed = run("keys", "list").stdout
    assert f"* {second}" in listed and f"  {first}" in listed
    assert run("keys", "retire", second).exit_code == 1  # the active key cannot go
    assert run("keys", "retire", first).exit_code == 0
    assert first not in run("keys", "list").stdout


def test_broker_files_needs_a_password_then_writes(run, tmp_path, client, world):
    out = tmp_path / "broker"
    r = run("broker-files", "--out", str(out))
    assert r.exit_code == 1 and "LOA_MQTT_PASSWORD" in r.output
    r = run("broker-files", "--out", str(out), LOA_MQTT_PASSWORD="mqtt-secret")
    assert r.exit_code == 0, r.output
    assert (out / "loa.passwd").read_text().startswith("loa-station:$7$")
    assert "topic write loa/#" in (out / "loa.acl").read_text()


def test_worker_until_idle_runs_due_jobs(run, client, world):
    r = client.post(f"/api/v1/communes/{world.a}/content", json={"title": "Tin", "text": "Xin chào bà con"},
                    headers=world.h("secretary"))
    assert r.status_code == 202
    item_id = r.json()["item"]["id"]
    res = run("worker", "--until-idle")
    assert res.exit_code == 0 and res.stdout.strip().endswith("ran 1"), res.output
    assert client.get(f"/api/v1/content/{item_id}", headers=world.h("secretary")).json()["render_state"] == "ready"
