"""Build a test's starting rows once per worker, then write the same rows straight into every later test's database.

The `world` fixtures create provinces, communes, villages, users (argon2 hashes), memberships and tokens through
the services, ~25-45 CPU-ms a test on ~1,000 tests. The rows they write depend only on the database they start
from and on `now`, so `Replay.build(engine, key, build)` runs `build()` the first time, records the rows it
added (every table, audit log included, and PostgreSQL's sequence positions), and for a later test whose
database starts in the same state (same row counts and sequence positions, same dialect, same key) inserts
those rows in one transaction and returns the same value. Each test still gets its own database with its own
copy of the rows; nothing is shared but the recording. If `build()` changes or deletes rows that were already
there, it is not recorded and runs every time."""
from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")


def _tables() -> list[sa.Table]:
    from sqlmodel import SQLModel

    from loa.migrations.registry import import_models

    import_models()
    return list(SQLModel.metadata.sorted_tables)  # parents first: the foreign keys hold row by row


def _pk(table: sa.Table, row: sa.Row) -> tuple:
    return tuple(row._mapping[c.name] for c in table.primary_key.columns)


def _rows(conn: Connection, tables: list[sa.Table]) -> dict[str, dict[tuple, dict[str, Any]]]:
    return {t.name: {_pk(t, r): dict(r._mapping) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))}
            for t in tables}


def _sequences(conn: Connection) -> dict[str, int | None]:
    if conn.dialect.name != "postgresql":
        return {}  # SQLite hands out max(rowid) + 1 (no AUTOINCREMENT tables): the rows are the state
    return {name: value for name, value in conn.execute(sa.text(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"))}


def _signature(conn: Connection, tables: list[sa.Table]) -> tuple:
    """What the ids `build()` gets depend on: how many rows each table has, and the sequences."""
    counts = conn.execute(sa.text(" UNION ALL ".join(
        f"SELECT '{t.name}', count(*) FROM \"{t.name}\"" for t in tables))).all()
    return (conn.dialect.name, tuple(sorted((name, n) for name, n in counts if n)),
            tuple(sorted(_sequences(conn).items())))


@dataclass
class _Recording(Generic[T]):
    value: T
    rows: list[tuple[sa.Table, list[dict[str, Any]]]]
    sequences: dict[str, int]


class Replay:
    def __init__(self) -> None:
        self._recordings: dict[tuple, _Recording | None] = {}

    def build(self, engine: Engine, key: Hashable, build: Callable[[], T]) -> T:
        tables = _tables()
        with engine.connect() as conn:
            signature = (key, _signature(conn, tables))
            recording = self._recordings.get(signature)
            if recording is not None:
                self._write(engine, recording)
                return copy.deepcopy(recording.value)  # a test may add to its World's dicts
            if signature in self._recordings:  # recorded as not replayable
                return build()
            before, seq_before = _rows(conn, tables), _sequences(conn)
            conn.rollback()  # end the snapshot, so build() is not looking at an older one (PostgreSQL)
        value = build()
        with engine.connect() as conn:
            after, seq_after = _rows(conn, tables), _sequences(conn)
        self._recordings[signature] = self._diff(tables, before, after, seq_before, seq_after, value)
        return value

    @staticmethod
    def _diff(tables, before, after, seq_before, seq_after, value) -> _Recording | None:
        rows = []
        for t in tables:
            old, new = before[t.name], after[t.name]
            if any(pk not in new or new[pk] != row for pk, row in old.items()):
                return None  # build() changed what was there: replaying its additions would not be the same
            added = [row for pk, row in new.items() if pk not in old]
            if added:
                rows.append((t, added))
        moved = {name: v for name, v in seq_after.items() if v != seq_before.get(name) and v is not None}
        return _Recording(copy.deepcopy(value), rows, moved)

    @staticmethod
    def _write(engine: Engine, recording: _Recording) -> None:
        with engine.begin() as conn:
            for table, rows in recording.rows:
                conn.execute(table.insert(), rows)
            for name, value in recording.sequences.items():
                conn.execute(sa.text("SELECT setval(:name, :value, true)"), {"name": f'"{name}"', "value": value})
