"""Migrations match the models on both databases; SQLite runs in WAL with foreign keys; the CLI commands."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel
from typer.testing import CliRunner

from loa.db import make_engine
from loa.migrations.registry import import_models


def test_migrations_match_the_models(db_url):
    import_models()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 10000
    engine.dispose()


def test_cli_admin_create_db_upgrade_and_data_dir_from_env(tmp_path, monkeypatch):
    from station.cli.main import app

    runner = CliRunner()
    data = tmp_path / "station"
    r = runner.invoke(app, ["admin", "create", "chu-tich", "--password", "mat-khau-rat-dai", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert (data / "loa.db").exists()
    monkeypatch.setenv("LOA_DATA_DIR", str(data))
    again = runner.invoke(app, ["admin", "create", "chu-tich", "--password", "mat-khau-rat-dai"])
    assert again.exit_code == 1 and "username_taken" in again.output
    prompted = runner.invoke(app, ["admin", "create", "bi-thu", "--role", "admin"],
                             input="mat-khau-rat-dai\nmat-khau-rat-dai\n")
    assert prompted.exit_code == 0, prompted.output
    needs_commune = runner.invoke(app, ["admin", "create", "can-bo", "--password", "mat-khau-rat-dai",
                                        "--role", "cadre"])
    assert needs_commune.exit_code != 0
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT username, is_admin FROM users ORDER BY id")).all()
        actions = conn.execute(sa.text("SELECT action FROM audit_log")).scalars().all()
    engine.dispose()
    assert [(u, bool(a)) for u, a in rows] == [("chu-tich", True), ("bi-thu", True)]
    assert actions.count("user.create") == 2
