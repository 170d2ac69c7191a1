"""The test databases, one of each per pytest process (tests/conftest.py loads this module as a plugin).

PostgreSQL: one fresh database per process (an xdist worker or a plain run), migrated once and dropped at the
end; each test starts from empty tables (`_empty_pg`). SQLite: one migrated template file per process, copied
for each test (tests/station_rig.py `db_url`).

Why a plugin and not fixtures imported into each conftest.py or test module: a fixture imported into a module
is a new fixture definition there, and a session-scoped one is then built once per definition. Imported into
~20 places, `pg_url` made a database per place on every worker, each keeping a pooled connection open until
the end of the run: with six workers PostgreSQL refused new clients ("too many clients already", 100 by
default). Do not import `pg_url` or `sqlite_template` by name; ask for them as fixture arguments."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from loa.db import make_engine, upgrade

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_url():
    name = f"loa_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            # A commit here need not wait for its WAL to reach the disk: a throwaway database has nothing to
            # lose in a power cut, and what other sessions see is unchanged (~1.5 ms less per commit).
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except sa.exc.OperationalError as exc:  # no silent skip: the suite must run on PostgreSQL too
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    _forget_pg(url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "loa.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


_pg_engines: dict[str, sa.Engine] = {}


def _empty_pg(url: str) -> None:
    """Every table empty and every id sequence back at its start, as a fresh migrated database has them.

    DELETE, not TRUNCATE: TRUNCATE gives each of the ~40 tables new files (and drops the old ones at commit),
    ~0.2-0.5 s per test, while deleting the few rows a test wrote takes ~0.05 s. `session_replication_role =
    replica` (this transaction only) lets the rows go in any order past the foreign keys and past the audit
    log's append-only trigger, which stay in force for the tests themselves. Only the sequences a test used are
    reset, with setval (ALTER SEQUENCE RESTART gives each sequence a new file, as TRUNCATE does), and the
    connection is kept for the next test (a new PostgreSQL connection is a process fork): ~10-15 ms a test
    instead of ~50-70 ms."""
    engine = _pg_engines.get(url) or _pg_engines.setdefault(url, make_engine(url))
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("; ".join(f'DELETE FROM "{t}"' for t in tables)))
        conn.execute(sa.text("SELECT setval(format('%I', sequencename)::regclass, start_value, false) "
                             "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"))


def _forget_pg(url: str) -> None:
    engine = _pg_engines.pop(url, None)
    if engine is not None:
        engine.dispose()
