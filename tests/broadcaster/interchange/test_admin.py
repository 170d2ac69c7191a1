"""Registering peers is an admin's act, on the command line or over the API, audited; a bad key, address, role or
a second upper station is refused with a clear code; nobody else can see or change the peers."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.station_rig import (  # noqa: F401  (the station on SQLite and PostgreSQL, with its world)
    _cheap_argon2, app, client, clock, db_url, engine, settings, world,
)


def _key() -> str:
    from broadcaster.signing import generate_key

    return generate_key().public_info()["public_key"]


def test_cli_identity_peer_add_and_outbox(tmp_path):
    from station.cli.main import app as cli

    runner = CliRunner()
    data = str(tmp_path / "xa")
    ident = runner.invoke(cli, ["interchange", "identity", "--data-dir", data])
    assert ident.exit_code == 0, ident.output
    me = json.loads(ident.output)
    assert me["station_id"].startswith("loa-") and len(me["key_id"]) == 16
    again = json.loads(runner.invoke(cli, ["interchange", "identity", "--data-dir", data]).output)
    assert again == me  # the id is kept, the key is the station's own
    added = runner.invoke(cli, ["interchange", "peer-add", "--station-id", "tinh-lao-cai", "--role", "upper",
                                "--url", "https://loa.laocai.gov.vn/", "--public-key", _key(), "--data-dir", data])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["base_url"] == "https://loa.laocai.gov.vn"
    second = runner.invoke(cli, ["interchange", "peer-add", "--station-id", "tinh-khac", "--role", "upper",
                                 "--url", "https://x.vn", "--public-key", _key(), "--data-dir", data])
    assert second.exit_code == 1 and "upper station" in second.output
    bad = runner.invoke(cli, ["interchange", "peer-add", "--station-id", "xa-a", "--role", "lower", "--url",
                              "https://x.vn", "--public-key", "không-phải-khóa", "--communes", "A", "--data-dir", data])
    assert bad.exit_code == 1 and "Ed25519" in bad.output
    summary = json.loads(runner.invoke(cli, ["interchange", "outbox", "--data-dir", data]).output)
    assert [(p["station_id"], p["role"], p["messages"]) for p in summary] == [("tinh-lao-cai", "upper", {})]


@pytest.mark.parametrize("who", ["cadre", "secretary", None])
def test_only_an_admin_registers_or_sees_peers(client, world, who):
    body = {"station_id": "xa-coc-san", "role": "lower", "base_url": "https://loa.cocsan.vn", "public_key": _key(),
            "communes": ["CS"]}
    assert client.post("/api/v1/interchange/peers", json=body, headers=world.h(who)).status_code in (401, 403)
    assert client.get("/api/v1/interchange/peers", headers=world.h(who)).status_code in (401, 403)
    assert client.get("/api/v1/interchange/outbox", headers=world.h(who)).status_code in (401, 403)


def test_admin_registers_over_the_api_audited(client, world, engine):
    from sqlmodel import select

    from loa.audit.models import AuditEntry
    from loa.db import session_scope

    h = world.h("admin")
    body = {"station_id": "xa-coc-san", "name": "Đài xã Cốc San", "role": "lower",
            "base_url": "https://loa.cocsan.vn", "public_key": _key(), "communes": ["CS"]}
    made = client.post("/api/v1/interchange/peers", json=body, headers=h)
    assert made.status_code == 201, made.text
    assert made.json()["communes"] == ["CS"] and len(made.json()["key_ids"]) == 1
    assert client.post("/api/v1/interchange/peers", json=body, headers=h).json()["code"] == "interchange_peer_exists"
    for change, code in (({"communes": []}, "interchange_communes_required"),
                         ({"base_url": "ftp://loa.x.vn"}, "interchange_url_invalid"),
                         ({"station_id": "Có Dấu"}, "interchange_station_id_invalid")):
        reply = client.post("/api/v1/interchange/peers", json={**body, "station_id": "xa-khac", **change}, headers=h)
        assert (reply.status_code, reply.json()["code"]) == (422, code), reply.text
    rotated = client.post("/api/v1/interchange/peers/xa-coc-san/keys", json={"public_key": _key()}, headers=h)
    assert len(rotated.json()["key_ids"]) == 2
    assert client.post("/api/v1/interchange/peers/xa-coc-san/disable", headers=h).json()["enabled"] is False
    with session_scope(engine) as s:
        actions = [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.object_type == "interchange_peer"))]
    assert actions == ["interchange.peer_registered", "interchange.peer_key_added", "interchange.peer_disabled"]
    # its identity page is public: what the other admin reads out and pins
    me = client.get("/api/interchange/v1/identity").json()
    assert set(me) == {"station_id", "key_id", "public_key"}
