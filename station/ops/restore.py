"""`loa restore`: check a backup completely, then swap it in — never half a restore.

1. Unpack every member into a staging directory beside the data (same filesystem: the swap is renames),
   refusing anything that is not a plain file under db/, keys/, audio/ (no links, no `..`), hashing as it goes.
   A truncated or corrupt archive fails here (gzip CRC, tar structure, or a checksum) and nothing changed.
2. Check the manifest: every listed file present with its SHA-256 and size, nothing unlisted, audio files named
   by their own hash. SQLite: `PRAGMA integrity_check`. PostgreSQL: pg_restore into a new database beside the
   target in one transaction.
3. Swap: keys/, audio/ and the SQLite file are renamed into place (the old ones aside, put back if a later step
   fails); PostgreSQL: the target database is renamed aside and the restored one takes its name. Then the old
   state is removed (`keep_old=True` keeps it).

Stop the station (API, workers, scheduler) before restoring; start it afterwards: it runs the migrations, so an
older backup is brought up to the current schema.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tarfile
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from station.ops import pg
from station.ops.backup import FORMAT, MANIFEST, PG_MEMBER, SQLITE_MEMBER, BackupError, Layout

_AUDIO_RE = re.compile(r"^audio/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.(ogg|mp3|json)$")
_KEY_RE = re.compile(r"^keys/([0-9a-f]{16}\.pem|active)$")


def _corrupt(detail: str) -> BackupError:
    return BackupError("backup_corrupt", f"Bản sao lưu hỏng hoặc không đầy đủ: {detail}",
                       f"The backup is corrupt or incomplete: {detail}")


def _allowed(name: str) -> bool:
    return name in (MANIFEST, SQLITE_MEMBER, PG_MEMBER) or bool(_KEY_RE.match(name) or _AUDIO_RE.match(name))


def _unpack(archive: Path, staging: Path) -> dict[str, dict]:
    """Extract every regular file, hashing it; returns {name: {sha256, size}}."""
    seen: dict[str, dict] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name
                if member.isdir():
                    continue
                path = PurePosixPath(name)
                if not member.isfile() or path.is_absolute() or ".." in path.parts or not _allowed(name):
                    raise _corrupt(f"unexpected member {name!r}")
                if name in seen:
                    raise _corrupt(f"member twice: {name}")
                target = staging / "new" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                src = tar.extractfile(member)
                with target.open("wb") as out:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
                seen[name] = {"sha256": digest.hexdigest(), "size": size}
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # a disk problem (ENOSPC …) is an OSError with an errno and propagates as itself
        raise _corrupt(f"{type(exc).__name__}: {exc}") from exc
    return seen


def check(archive: str | os.PathLike, staging: Path) -> dict:
    """Unpack into `staging/new` and verify; returns the manifest. Raises BackupError."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError("backup_missing", f"Không có tệp {archive}", f"No such file {archive}")
    seen = _unpack(archive, staging)
    if MANIFEST not in seen:
        raise _corrupt("no manifest.json")
    try:
        manifest = json.loads((staging / "new" / MANIFEST).read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(f"manifest.json: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("backup_format", f"Định dạng sao lưu không hỗ trợ: {manifest.get('format')!r}",
                          f"Unsupported backup format {manifest.get('format')!r} (want {FORMAT})")
    listed: dict = manifest.get("files") or {}
    content = {k: v for k, v in seen.items() if k != MANIFEST}
    if set(listed) != set(content):
        missing, extra = sorted(set(listed) - set(content)), sorted(set(content) - set(listed))
        raise _corrupt(f"missing {missing[:5]}, unlisted {extra[:5]}")
    for name, facts in listed.items():
        if content[name] != {"sha256": facts.get("sha256"), "size": facts.get("size")}:
            raise _corrupt(f"checksum mismatch: {name}")
        m = _AUDIO_RE.match(name)
        if m and m.group(4) != "json" and facts["sha256"] != m.group(3):
            raise _corrupt(f"audio file is not its own hash: {name}")
    db = manifest.get("database") or {}
    if db.get("member") not in listed:
        raise _corrupt("no database in the backup")
    return manifest


def _sqlite_ok(path: Path) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _corrupt(f"database: {exc}") from exc
    finally:
        conn.close()
    if result != "ok":
        raise _corrupt(f"database integrity_check: {result}")


@dataclass
class _Swaps:
    """Renames done so far, undone in reverse order if a later step fails."""

    done: list[tuple[Path, Path]] = field(default_factory=list)

    def move(self, src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        self.done.append((src, dst))

    def undo(self) -> None:
        for src, dst in reversed(self.done):
            try:
                os.replace(dst, src)
            except OSError:
                pass


def restore_backup(layout: Layout, archive: str | os.PathLike, keep_old: bool = False) -> dict:
    """Replace the station's database, keys and audio with the backup's. Returns the manifest plus `old`
    (where the previous state was kept, with keep_old)."""
    dialect = layout.dialect
    anchor = layout.sqlite_path().parent if dialect == "sqlite" else layout.audio_dir.parent
    anchor.mkdir(parents=True, exist_ok=True)
    staging = anchor / f".restore-{uuid.uuid4().hex[:10]}"
    staging.mkdir()
    new_db_name = ""
    try:
        manifest = check(archive, staging)
        new = staging / "new"
        if manifest["database"]["dialect"] != dialect:
            raise BackupError("backup_dialect", f"Bản sao lưu là {manifest['database']['dialect']}, đài dùng {dialect}",
                              f"The backup holds a {manifest['database']['dialect']} database; this station uses {dialect}")
        if dialect == "sqlite":
            _sqlite_ok(new / SQLITE_MEMBER)
        else:
            new_db_name = pg.restore_to_new_database(layout.db_url, new / PG_MEMBER)
        # keys must keep 0600 / 0700 (KeyRing refuses wider modes)
        (new / "keys").mkdir(exist_ok=True)
        os.chmod(new / "keys", 0o700)
        for key in (new / "keys").iterdir():
            os.chmod(key, 0o600)
        (new / "audio").mkdir(exist_ok=True)
        swaps, old = _Swaps(), staging / "old"
        try:
            pairs = [(new / "keys", layout.keys_dir)]
            if manifest["audio"]["included"]:
                pairs.append((new / "audio", layout.audio_dir))
            if dialect == "sqlite":
                db = layout.sqlite_path()
                for suffix in ("-wal", "-shm", "-journal"):  # a stale WAL beside a new file would corrupt it
                    side = db.with_name(db.name + suffix)
                    if side.exists():
                        swaps.move(side, old / side.name)
                pairs.append((new / SQLITE_MEMBER, db))
            for src, dst in pairs:
                if dst.exists():
                    swaps.move(dst, old / dst.name)
                swaps.move(src, dst)
            if dialect == "postgresql":
                old_db = pg.swap_in(layout.db_url, new_db_name)
                new_db_name = ""
                if old_db and not keep_old:
                    pg.drop_database(layout.db_url, old_db)
                manifest["old_database"] = old_db if keep_old else None
        except BaseException:
            swaps.undo()
            raise
        if keep_old:
            manifest["old"] = str(old)
            shutil.rmtree(new, ignore_errors=True)
            return manifest
    except BaseException:
        if new_db_name:
            pg.drop_database(layout.db_url, new_db_name)
        shutil.rmtree(staging, ignore_errors=True)  # the swaps were undone: the old state is back in place
        raise
    shutil.rmtree(staging, ignore_errors=True)
    manifest["old"] = None
    return manifest
