"""Allocating control sequence numbers from the database (the `control_seq` row; docs/device-protocol.md §4a).

One `UPDATE … RETURNING`: PostgreSQL's row lock and SQLite's single writer make concurrent allocations
(threads, API replicas, the scheduler) get disjoint blocks, each above every block committed before. Never the
wall clock (a station clock set back) and never a process counter (a restart, a second replica).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

_BUMP = sa.text("UPDATE control_seq SET value = value + :n WHERE id = 1 RETURNING value")
_SEED = sa.text("INSERT INTO control_seq (id, value) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")


def allocate(engine: Engine, n: int = 1) -> int:
    """Reserve `n` fresh numbers in a short transaction of their own; returns the first (first … first + n − 1)."""
    from broadcaster.station.manifests import write_lock

    if n < 1:
        raise ValueError("n >= 1")
    with write_lock(engine), engine.begin() as conn:
        return _bump(conn, n)


def allocate_in(session: Session, n: int = 1) -> int:
    """The same inside the caller's transaction (no second pooled connection per request: with 40 request
    threads and a pool of 15 that could deadlock). The row stays locked until the caller commits, so call it
    last, just before signing."""
    return _bump(session.connection(), n)


def at_least(session: Session, value: int) -> None:
    """Raise the counter to `value` if it is lower: a device reported applying a seq this database never issued
    (the station was restored from a backup older than the device's floor). Without this every manifest and
    command it signs would be refused as a replay until the counter caught up by itself."""
    session.execute(sa.text("UPDATE control_seq SET value = :v WHERE id = 1 AND value < :v"), {"v": int(value)})


def _bump(conn: Connection, n: int) -> int:
    last = conn.execute(_BUMP, {"n": n}).scalar()
    if last is None:  # a database made without the migration's row (SQLModel.create_all in a tool)
        conn.execute(_SEED)
        last = conn.execute(_BUMP, {"n": n}).scalar()
        if last is None:
            raise RuntimeError("control_seq still has no row after seeding it")
    return int(last) - n + 1
