"""Database engine, session and migrations for SQLite (embedded default) and PostgreSQL (at scale).

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the in-process worker thread and the
request threads can share the file. Datetimes are stored as UTC and always come back tz-aware.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class UtcDateTime(sa.types.TypeDecorator):
    """A timestamp that refuses naive datetimes and always returns aware UTC ones (SQLite has no tz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass a tz-aware one")
        value = value.astimezone(timezone.utc)
        # SQLite stores text: drop tzinfo so every value sorts and compares the same way.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL is a property of the database file: switching needs a lock, checking does not.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`, with the SQLite pragmas installed on every new connection."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 10}
        if ":memory:" not in url and url.rstrip("/") not in ("sqlite:", "sqlite://"):
            # Requests run on AnyIO's 40 worker threads: with SQLAlchemy's default pool (5 + 10 overflow) a burst
            # of device lookups opened and closed a connection each (pragmas included) instead of reusing one.
            kwargs.setdefault("pool_size", 48)
            kwargs.setdefault("max_overflow", 16)
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine_or_url: Engine | str):
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if isinstance(engine_or_url, Engine):
        cfg.attributes["engine"] = engine_or_url
        cfg.set_main_option("sqlalchemy.url", engine_or_url.url.render_as_string(hide_password=False))
    else:
        cfg.set_main_option("sqlalchemy.url", engine_or_url)
    return cfg


@lru_cache(maxsize=1)
def _head_revisions() -> frozenset[str]:
    """The newest revisions of the migrations shipped with this code (they do not change while it runs)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def _at_heads(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return False
        current = {row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    return current == _head_revisions()


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to the newest revision (run at server start and by `loa db upgrade`).

    A database already at the newest revision is left as it is without running Alembic: a full
    `command.upgrade` loads env.py and every migration file again (~16 CPU-ms each server start; the test
    suite starts the app ~1,000 times) to find there is nothing to do."""
    from alembic import command

    from loa.migrations.registry import import_models

    if revision == "heads" and _at_heads(engine):
        import_models()  # as env.py would: every table model registered, whoever relies on the metadata
        return
    command.upgrade(alembic_config(engine), revision)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a table model, for queries written in SQLAlchemy Core. SQLModel sets `__table__`
    on every table class, but its type stubs do not declare it: this is the typed way to it."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table
