"""The JSON Schemas in docs/device-protocol.md are the ones in code, and the code's messages satisfy them."""
from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from broadcaster.agent.playlog import PlayLog
from broadcaster.protocol.schemas import SCHEMAS, appendix, schema_for
from broadcaster.signing import KeyRing
from tests.broadcaster.helpers import T0, entry, manifest

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"


def _valid(name: str, message: object) -> None:
    jsonschema.validate(message, schema_for(name), cls=jsonschema.Draft202012Validator)


def test_doc_appendix_matches_code():
    text = DOC.read_text("utf-8")
    assert text.endswith(appendix())
    for name in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schema_for(name))


def test_code_messages_satisfy_schemas(tmp_path):
    ring = KeyRing(tmp_path / "keys")
    key = ring.active()
    m = manifest([entry("p1", T0, 30), entry("r1", T0 + timedelta(minutes=1), 600, kind="relay"),
                  entry("s1", T0 + timedelta(minutes=20), 60, kind="silence", priority="priority")],
                 fallback=entry("fb", T0, 3600, "fallback"))
    env = key.sign(m)
    _valid("SignedManifest", json.loads(json.dumps(env)))
    from dataclasses import replace as _replace

    from broadcaster.protocol.manifest import Standby

    held = _replace(m, standby=(Standby("b" * 64, 1234, "/api/device/v1/audio/" + "b" * 64),))
    _valid("SignedManifest", json.loads(json.dumps(key.sign(held))))  # with standby files (§4b)
    _valid("KeySet", ring.signed_keyset(T0))
    log = PlayLog(tmp_path / "log")
    log.append(play_id="p1", sha256="a" * 64, title="Bản tin", priority="normal", planned_start="2026-11-23T00:00:00Z",
               actual_start="2026-11-23T00:00:00.004Z", actual_end="2026-11-23T00:00:30Z", result="played")
    log.append(play_id="p2", sha256=None, title="Tiếp sóng", priority="normal", planned_start="2026-11-23T00:00:00Z",
               actual_start=None, actual_end=None, result="skipped", reason="missed_start")
    _valid("PlaysRequest", {"records": log.pending()})
    creds = {"device_id": "dev_3f9a0c1b2d4e5f60", "token": "loa_dev_" + secrets.token_urlsafe(32),
             "commune_id": "cocsan", "village_id": "unta", "station_keys": [key.public_info()], "mqtt": None}
    _valid("Credentials", creds)
    with pytest.raises(jsonschema.ValidationError):
        bad = json.loads(json.dumps(env))
        bad["manifest"]["entries"][0]["priority"] = "loud"
        _valid("SignedManifest", bad)
    with pytest.raises(jsonschema.ValidationError):
        _valid("PlayRecord", {**log.pending()[0], "result": "maybe"})
