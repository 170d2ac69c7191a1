from __future__ import annotations

import copy
import json
import os
import stat
from datetime import timedelta

import pytest

from broadcaster.protocol.manifest import (
    Manifest, ManifestRejected, verify_keyset, verify_manifest,
)
from broadcaster.protocol.wire import b64decode, b64encode, canonical_json, key_id_for
from broadcaster.signing import KeyRing, generate_key
from tests.broadcaster.helpers import T0, entry, manifest


def _signed():
    key = generate_key()
    m = manifest([entry("p1", T0, 30), entry("p2", T0 + timedelta(minutes=5), 12.5, "priority", title="Tiêm chủng")],
                 fallback=entry("fb", T0, 3600 * 12, "fallback"))
    return key, m, key.sign(m), {key.key_id: key.public_raw}


def test_round_trip_through_json_text():
    key, m, env, pinned = _signed()
    wire = json.loads(json.dumps(env, ensure_ascii=False))
    back = verify_manifest(wire, pinned, device_id=m.device_id, now=T0)
    assert back == m
    assert back.needed_hashes() == m.needed_hashes() and len(back.needed_hashes()) == 3


def test_canonical_json_is_stable_and_compact():
    assert canonical_json({"b": 1, "a": "Tiếng Việt", "c": [1.5, None]}) == \
        '{"a":"Tiếng Việt","b":1,"c":[1.5,null]}'.encode("utf-8")
    _, m, _, _ = _signed()
    d = m.to_dict()
    shuffled = json.loads(json.dumps(dict(reversed(list(d.items())))))
    assert canonical_json(shuffled) == canonical_json(d)
    assert Manifest.from_dict(shuffled).to_dict() == d
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def _all_leaf_paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _all_leaf_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _all_leaf_paths(v, prefix + (i,))
    else:
        yield prefix


def _mutate(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value is None:
        return "x"
    if isinstance(value, str) and value.endswith("Z"):
        return value[:-1] + ".001Z"
    return value + "x"


def test_any_changed_field_is_refused():
    _, _, env, pinned = _signed()
    paths = list(_all_leaf_paths(env["manifest"]))
    assert len(paths) > 30
    for path in paths:
        bad = copy.deepcopy(env)
        node = bad["manifest"]
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = _mutate(node[path[-1]])
        with pytest.raises(ManifestRejected) as info:
            verify_manifest(bad, pinned)
        assert info.value.code in ("manifest_signature_invalid", "manifest_invalid"), path


def test_signature_swap_unknown_key_and_wrong_device_refused():
    key, m, env, pinned = _signed()
    other = generate_key()
    # signature from another manifest by the same key
    m2 = manifest([entry("p9", T0, 10)])
    env_swapped = dict(env, signature=key.sign(m2)["signature"])
    with pytest.raises(ManifestRejected, match="manifest_signature_invalid"):
        verify_manifest(env_swapped, pinned)
    # a valid signature by a key that is not pinned
    with pytest.raises(ManifestRejected, match="manifest_signature_invalid"):
        verify_manifest(other.sign(m), pinned)
    # claim a pinned key id while signing with another key
    forged = other.sign(m)
    forged["key_id"] = key.key_id
    with pytest.raises(ManifestRejected, match="manifest_signature_invalid"):
        verify_manifest(forged, pinned)
    # garbage signature
    with pytest.raises(ManifestRejected, match="manifest_signature_invalid"):
        verify_manifest(dict(env, signature="!!notbase64"), pinned)
    # truncated signature
    with pytest.raises(ManifestRejected, match="manifest_signature_invalid"):
        verify_manifest(dict(env, signature=b64encode(b64decode(env["signature"])[:-1])), pinned)
    with pytest.raises(ManifestRejected, match="manifest_wrong_device"):
        verify_manifest(env, pinned, device_id="dev_ffffffffffffffff")
    with pytest.raises(ManifestRejected, match="manifest_expired"):
        verify_manifest(env, pinned, now=m.valid_until)


def test_keyring_files_are_private_and_reload(tmp_path):
    ring = KeyRing(tmp_path / "keys")
    key = ring.active()
    path = tmp_path / "keys" / f"{key.key_id}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    again = KeyRing(tmp_path / "keys").active()
    assert again.key_id == key.key_id and again.public_raw == key.public_raw
    assert key.key_id == key_id_for(key.public_raw) and len(key.key_id) == 16
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError):
        ring.load(key.key_id)


def test_rotation_keyset_accepted_only_from_a_pinned_key(tmp_path):
    ring = KeyRing(tmp_path / "keys")
    old = ring.active()
    pinned = {old.key_id: old.public_raw}
    new = ring.rotate()
    assert ring.active().key_id == new.key_id != old.key_id
    new_pins = verify_keyset(ring.signed_keyset(T0), pinned)
    assert set(new_pins) == {old.key_id, new.key_id}
    m = manifest([entry("p1", T0, 10)])
    assert verify_manifest(new.sign(m), new_pins).version == m.version
    with pytest.raises(ManifestRejected):
        verify_manifest(new.sign(m), pinned)
    # a key set signed only by strangers is refused
    stranger = KeyRing(tmp_path / "other")
    stranger.active()
    with pytest.raises(ManifestRejected):
        verify_keyset(stranger.signed_keyset(T0), pinned)
    # a key set whose key ids lie is refused
    env = ring.signed_keyset(T0)
    env["keyset"]["keys"][0]["key_id"] = "0" * 16
    with pytest.raises(ManifestRejected):
        verify_keyset(env, pinned)
