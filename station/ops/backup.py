"""`loa backup`: one .tar.gz with a consistent database snapshot, the station's signing keys and the audio
store, plus `manifest.json` listing every member with its SHA-256 and size.

Order matters: the database is snapshotted first (SQLite: the online backup API, a consistent copy while the
station runs; PostgreSQL: pg_dump, one repeatable-read transaction), then the keys and the audio store are
copied. The store is content-addressed and files never change under their name, so every file the snapshot
refers to is already there; files added meanwhile are harmless extras. The archive is written to a temp file
beside OUT and renamed only when complete.

Archive layout (format `loa.backup/1`):
    db/loa.sqlite | db/loa.pgdump     the database
    keys/<key_id>.pem, keys/active    Ed25519 station keys (devices pin them: without them every box must
                                      be enrolled again)
    audio/ab/cd/<sha256>.ogg|.mp3|.json   the store, same layout as on disk
    manifest.json                     last member: format, versions, counts, {path: {sha256, size}}
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from loa.db import make_engine
from station.ops import pg

FORMAT = "loa.backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "db/loa.sqlite"
PG_MEMBER = "db/loa.pgdump"


class BackupError(RuntimeError):
    """A backup or restore refused; `message_vi` / `message_en` for the operator."""

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self.code, self.message_vi, self.message_en = code, message_vi, message_en


@dataclass(frozen=True)
class Layout:
    """Where a station's state lives (from Settings)."""

    db_url: str
    audio_dir: Path
    keys_dir: Path

    @classmethod
    def from_settings(cls, settings) -> "Layout":
        return cls(settings.db_url, settings.audio_dir, settings.resolved_data_dir / "keys")

    @property
    def dialect(self) -> str:
        name = make_url(self.db_url).get_backend_name()
        if name not in ("sqlite", "postgresql"):
            raise BackupError("unsupported_database", f"Không hỗ trợ cơ sở dữ liệu {name}",
                              f"Unsupported database {name}")
        return name

    def sqlite_path(self) -> Path:
        database = make_url(self.db_url).database
        if not database or database == ":memory:":
            raise BackupError("unsupported_database", "Cơ sở dữ liệu SQLite trong bộ nhớ",
                              "An in-memory SQLite database cannot be backed up")
        return Path(database)


class _Hashing(io.RawIOBase):
    """Reads through to `inner`, hashing and counting: one pass over each file for tar and checksum."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner, self.digest, self.size = inner, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.digest.update(data)
        self.size += n
        return n


def _add_file(tar: tarfile.TarFile, path: Path, name: str, files: dict[str, dict]) -> None:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as fh:
        reader = _Hashing(fh)
        tar.addfile(info, reader)
    if reader.size != info.size:  # the file changed under us (never for the content-addressed store)
        raise BackupError("file_changed", f"Tệp thay đổi khi sao lưu: {name}", f"File changed during backup: {name}")
    files[name] = {"sha256": reader.digest.hexdigest(), "size": reader.size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))


def sqlite_snapshot(src: Path, dst: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections read and write (WAL)."""
    if not src.exists():
        raise BackupError("database_missing", f"Không có tệp cơ sở dữ liệu {src}", f"No database file {src}")
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        with target:
            source.backup(target, pages=4096)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
    finally:
        target.close()
        source.close()


def alembic_revision(db_url: str) -> str | None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def _audio_files(audio_dir: Path) -> list[Path]:
    if not audio_dir.exists():
        return []
    out = []
    for path in sorted(audio_dir.rglob("*")):
        rel = path.relative_to(audio_dir)
        # stray temp files of a crashed write (`.tmp-*`) are not part of the store
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append(path)
    return out


def create_backup(layout: Layout, out: str | os.PathLike, include_audio: bool = True,
                  now: datetime | None = None) -> dict:
    """Write the archive to `out` (temp + rename); return its manifest."""
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(timezone.utc)
    dialect = layout.dialect
    fd, part_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    part = Path(part_name)
    files: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="loa-backup-") as work:
            work_dir = Path(work)
            revision = alembic_revision(layout.db_url)
            if dialect == "sqlite":
                db_file, db_member = work_dir / "loa.sqlite", SQLITE_MEMBER
                sqlite_snapshot(layout.sqlite_path(), db_file)
            else:
                db_file, db_member = work_dir / "loa.pgdump", PG_MEMBER
                pg.dump(layout.db_url, db_file)
            # gzip level 1: the Opus audio does not compress, the database dump is small or already compressed
            with tarfile.open(part, "w:gz", compresslevel=1, format=tarfile.PAX_FORMAT) as tar:
                _add_file(tar, db_file, db_member, files)
                keys = sorted(layout.keys_dir.glob("*.pem")) if layout.keys_dir.exists() else []
                for key in keys:
                    _add_file(tar, key, f"keys/{key.name}", files)
                active = layout.keys_dir / "active"
                if active.exists():
                    _add_file(tar, active, "keys/active", files)
                audio_count = audio_bytes = 0
                if include_audio:
                    for path in _audio_files(layout.audio_dir):
                        name = "audio/" + path.relative_to(layout.audio_dir).as_posix()
                        _add_file(tar, path, name, files)
                        audio_count += 1
                        audio_bytes += files[name]["size"]
                manifest = {
                    "format": FORMAT,
                    "created_at": now.astimezone(timezone.utc).isoformat(),
                    "loa_version": _version(),
                    "database": {"dialect": dialect, "member": db_member, "alembic_revision": revision},
                    "keys": {"active": active.read_text().strip() if active.exists() else None,
                             "key_ids": [k.stem for k in keys]},
                    "audio": {"included": include_audio, "files": audio_count, "bytes": audio_bytes},
                    "files": files,
                }
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        with part.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return manifest


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("loa")
    except Exception:  # noqa: BLE001  (not installed as a distribution: a source checkout)
        return "unknown"
