"""`loa backup` / `loa restore` end to end on SQLite and PostgreSQL: back up a running station, wipe it,
restore, and the station serves the same items, the same audio, and manifests that verify with the key the
device pinned at enrollment. A corrupt, truncated or tampered archive is refused and changes nothing."""
from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from broadcaster.protocol.manifest import verify_manifest
from broadcaster.protocol.wire import b64decode
from station.ops.backup import BackupError, Layout, create_backup
from station.ops.restore import restore_backup
from tests import tools
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code, schedule
from tests.station_rig import make_item


def _snapshot(client, world, creds, sha256) -> dict:
    """What the station serves: the commune's items, the device's manifest and one audio file."""
    items = client.get(f"/api/v1/communes/{world.a}/content", headers=world.h("cadre"))
    assert items.status_code == 200, items.text
    manifest = client.get(f"{DEV}/manifest", headers=dh(creds))
    assert manifest.status_code == 200, manifest.text
    audio = client.get(f"{DEV}/audio/{sha256}", headers=dh(creds))
    assert audio.status_code == 200, audio.text
    return {"items": items.json(), "manifest": manifest.json(), "audio": audio.content}


def _pinned(creds) -> dict[str, bytes]:
    return {k["key_id"]: b64decode(k["public_key"]) for k in creds["station_keys"]}


def _wipe(settings, db_url: str) -> None:
    """Lose everything: the data directory and the database."""
    shutil.rmtree(settings.resolved_data_dir)
    if db_url.startswith("sqlite"):
        path = Path(sa.engine.make_url(db_url).database)
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
    else:
        engine = sa.create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()


@pytest.fixture
def station(tmp_path, settings, clock, db_url, world, facts, schedules_service, client, engine):
    """A station with an approved item scheduled on one enrolled device."""
    if db_url.startswith("postgresql"):  # a PostgreSQL station is backed up by pg_dump and restored by pg_restore
        for name in ("pg_dump", "pg_restore"):
            tools.require_tool(name, apt="postgresql-client", why="sao lưu PostgreSQL / PostgreSQL backups")
    item = make_item(engine, world, facts, clock, status="approved")
    _, creds = enroll_by_code(client, world)
    schedule(engine, world, [item], clock() + timedelta(hours=1))
    schedules_service.materialize_commune(world.a, clock())
    return {"creds": creds, "sha": facts.sha256}


def test_backup_wipe_restore_serves_the_same_station(tmp_path, station, settings, client, world, clock, db_url):
    from api.app import create_app

    creds, sha = station["creds"], station["sha"]
    before = _snapshot(client, world, creds, sha)
    archive = tmp_path / "backup.tar.gz"
    manifest = create_backup(Layout.from_settings(settings), archive)  # while the station runs
    assert manifest["database"]["dialect"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    assert manifest["keys"]["key_ids"] == [k["key_id"] for k in creds["station_keys"]]
    assert any(name.endswith(f"{sha}.ogg") for name in manifest["files"])
    client.__exit__(None, None, None)  # stop the station
    _wipe(settings, db_url)

    restored = restore_backup(Layout.from_settings(settings), archive)
    assert restored["created_at"] == manifest["created_at"]
    assert (settings.resolved_data_dir / "keys").stat().st_mode & 0o777 == 0o700
    assert not list(settings.resolved_data_dir.parent.glob(".restore-*"))  # staging removed
    with TestClient(create_app(settings, clock=clock)) as again:
        after = _snapshot(again, world, creds, sha)
    assert after["items"] == before["items"]
    assert after["audio"] == before["audio"]
    assert after["manifest"]["manifest"]["version"] == before["manifest"]["manifest"]["version"]
    # the device's pinned key still verifies what the restored station signs
    verified = verify_manifest(after["manifest"], _pinned(creds), device_id=creds["device_id"], now=clock())
    assert verified.entries and verified.entries[0].sha256 == sha


def _rewrite(archive: Path, out: Path, change) -> None:
    """Copy the archive member by member, letting `change(name, data)` alter a member's bytes."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = change(member.name, data)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)


def _bad_archives(archive: Path, tmp: Path, sha: str) -> dict[str, Path]:
    raw = archive.read_bytes()
    out = {}
    out["truncated"] = tmp / "truncated.tar.gz"
    out["truncated"].write_bytes(raw[: len(raw) * 2 // 3])
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    out["flipped"] = tmp / "flipped.tar.gz"
    out["flipped"].write_bytes(bytes(flipped))
    out["tampered_audio"] = tmp / "tampered.tar.gz"
    _rewrite(archive, out["tampered_audio"],
             lambda name, data: data[:-8] + b"\0" * 8 if name.endswith(f"{sha}.ogg") else data)
    out["no_manifest"] = tmp / "no_manifest.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out["no_manifest"], "w:gz") as dst:
        for member in src:
            if member.name != "manifest.json":
                dst.addfile(member, src.extractfile(member))
    out["path_escape"] = tmp / "escape.tar.gz"
    with tarfile.open(out["path_escape"], "w:gz") as dst:
        info = tarfile.TarInfo("../../evil")
        info.size = 4
        dst.addfile(info, io.BytesIO(b"evil"))
    out["not_gzip"] = tmp / "plain.tar.gz"
    out["not_gzip"].write_bytes(gzip.decompress(raw)[:4096])
    return out


def _state(settings, db_url) -> dict:
    files = {p.relative_to(settings.resolved_data_dir).as_posix(): p.read_bytes()
             for p in sorted(settings.resolved_data_dir.rglob("*")) if p.is_file() and "tmp" not in p.parts}
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("content_items", "devices", "device_credentials", "timetable_plays", "audit_log")}
    engine.dispose()
    return {"files": files, "counts": counts}


def test_a_bad_archive_is_refused_and_changes_nothing(tmp_path, station, settings, client, db_url):
    archive = tmp_path / "good.tar.gz"
    create_backup(Layout.from_settings(settings), archive)
    client.__exit__(None, None, None)
    before = _state(settings, db_url)
    for kind, bad in _bad_archives(archive, tmp_path, station["sha"]).items():
        with pytest.raises(BackupError) as err:
            restore_backup(Layout.from_settings(settings), bad)
        assert err.value.code == "backup_corrupt", (kind, err.value)
        assert _state(settings, db_url) == before, kind
    assert not list(tmp_path.rglob(".restore-*"))
    if db_url.startswith("postgresql"):  # no restore database left behind
        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        with admin.connect() as conn:
            names = [r[0] for r in conn.execute(sa.text("SELECT datname FROM pg_database"))]
        admin.dispose()
        name = sa.engine.make_url(db_url).database
        assert not [n for n in names if n.startswith(f"{name}__")]


def test_cli_backup_check_restore(tmp_path, station, settings, client, db_url, monkeypatch):
    from typer.testing import CliRunner

    from station.cli.main import app as cli

    monkeypatch.setenv("LOA_DATABASE_URL", db_url)
    data = str(settings.resolved_data_dir)
    archive = tmp_path / "cli.tar.gz"
    runner = CliRunner()
    r = runner.invoke(cli, ["backup", "--data-dir", data, str(archive)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["audio_files"] >= 1 and summary["keys"]
    r = runner.invoke(cli, ["restore", "--check", "--data-dir", data, str(archive)])
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["ok"], r.output
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:-100])
    client.__exit__(None, None, None)
    r = runner.invoke(cli, ["restore", "--data-dir", data, str(broken)])
    assert r.exit_code == 1 and "backup_corrupt" in r.output
    r = runner.invoke(cli, ["restore", "--data-dir", data, str(archive)])
    assert r.exit_code == 0, r.output
