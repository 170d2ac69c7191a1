"""The station's Ed25519 signing keys (server side): generate, store (0600), load, rotate.

Layout under `<data_dir>/keys/`: one `<key_id>.pem` per key (PKCS#8, unencrypted, mode 0600) and `active`
naming the key that signs new manifests. Old keys stay so devices that pinned them can verify a key set
signed by them during rotation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.protocol.files import write_atomic
from broadcaster.protocol.manifest import Manifest, sign_canonical, sign_keyset, sign_manifest
from broadcaster.protocol.wire import b64encode, key_id_for


@dataclass(frozen=True)
class StationKey:
    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def public_info(self) -> dict[str, str]:
        """The {key_id, public_key} item of the credentials reply and key set."""
        return {"key_id": self.key_id, "public_key": b64encode(self.public_raw)}

    def sign(self, manifest: Manifest) -> dict[str, Any]:
        return sign_manifest(manifest, self.private_key, self.key_id)

    def sign_canonical(self, body: dict[str, Any], canonical: bytes) -> dict[str, Any]:
        """The envelope of a body whose canonical bytes are known (broadcaster.protocol.manifest.versioned)."""
        return sign_canonical(body, canonical, self.private_key, self.key_id)


def generate_key() -> StationKey:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return StationKey(key_id_for(raw), private)


class KeyRing:
    """All station keys on disk, one of them active."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def save(self, key: StationKey) -> Path:
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path = self.directory / f"{key.key_id}.pem"
        write_atomic(path, pem, 0o600)  # private from the first byte
        return path

    def load(self, key_id: str) -> StationKey:
        path = self.directory / f"{key_id}.pem"
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"Khóa ký có quyền quá rộng / signing key {path} has mode {mode:o}, expected 600")
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"Không phải khóa Ed25519 / {path} is not an Ed25519 key")
        key = StationKey(key_id_for(private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)), private)
        if key.key_id != key_id:
            raise ValueError(f"Tên tệp khóa sai / {path} holds key {key.key_id}")
        return key

    def all_keys(self) -> list[StationKey]:
        return [self.load(p.stem) for p in sorted(self.directory.glob("*.pem"))]

    def active(self) -> StationKey:
        """The signing key; created on first use."""
        marker = self.directory / "active"
        if marker.exists():
            return self.load(marker.read_text().strip())
        return self.rotate()

    def rotate(self) -> StationKey:
        """Make a new key active. Keep the old ones: devices pinned to them accept a key set they sign."""
        key = generate_key()
        self.save(key)
        tmp = self.directory / ".active.tmp"
        tmp.write_text(key.key_id + "\n")
        os.replace(tmp, self.directory / "active")
        return key

    def retire(self, key_id: str) -> None:
        if key_id == self.active().key_id:
            raise ValueError("Không thể bỏ khóa đang dùng / cannot retire the active key")
        (self.directory / f"{key_id}.pem").unlink()

    def signed_keyset(self, now: datetime) -> dict[str, Any]:
        """GET /api/device/v1/keys: every current key, signed by each of them (a device pinned to an old key
        verifies with that one and learns the new key before manifests switch to it)."""
        keys = self.all_keys()
        return sign_keyset([k.public_info() for k in keys], now, [(k.key_id, k.private_key) for k in keys])
