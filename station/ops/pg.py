"""PostgreSQL helpers for backups: pg_dump / pg_restore with the station's URL, and database swaps.

The dump is pg_dump's custom format (`-Fc`: compressed, restorable table by table). Passwords go through
PGPASSWORD, never the command line (ps would show them)."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url


class PgToolError(RuntimeError):
    pass


def tool(name: str) -> str:
    """pg_dump / pg_restore from PATH (LOA_PG_BIN_DIR first when set: match the server's major version)."""
    bin_dir = os.environ.get("LOA_PG_BIN_DIR")
    found = shutil.which(name, path=bin_dir) if bin_dir else None
    found = found or shutil.which(name)
    if not found:
        raise PgToolError(f"Không tìm thấy {name} / {name} not found on PATH (apt install postgresql-client)")
    return found


def _url(url: str) -> URL:
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.drivername}")
    return parsed


def _conn_args(url: URL, database: str | None = None) -> tuple[list[str], dict[str, str]]:
    args = ["--dbname", database or url.database or "postgres"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PgToolError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


def dump(url: str, out: Path) -> None:
    """A consistent snapshot (pg_dump runs in one repeatable-read transaction) in custom format."""
    parsed = _url(url)
    args, env = _conn_args(parsed)
    _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(out), *args], env)


def maintenance_engine(url: str) -> sa.engine.Engine:
    """AUTOCOMMIT engine on the server's `postgres` database (CREATE/ALTER/DROP DATABASE need it)."""
    parsed = _url(url).set(drivername="postgresql+psycopg", database="postgres")
    return sa.create_engine(parsed, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def restore_to_new_database(url: str, dump_file: Path) -> str:
    """pg_restore the dump into a new database beside the target; returns its name. Fails whole or not at all
    (`--single-transaction --exit-on-error`); on failure the new database is dropped."""
    parsed = _url(url)
    temp = f"{parsed.database}__restore_{uuid.uuid4().hex[:8]}"[:63]
    admin = maintenance_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {_q(temp)} TEMPLATE template0 ENCODING 'UTF8'"))
        args, env = _conn_args(parsed, temp)
        try:
            _run([tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                  *args, str(dump_file)], env)
        except BaseException:
            drop_database(url, temp)
            raise
    finally:
        admin.dispose()
    return temp


def _terminate(conn, name: str) -> None:
    conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})


def swap_in(url: str, new_name: str) -> str:
    """Make `new_name` the target database: target → `<target>__old_<hex>`, new → target. Sessions on the
    target are ended (the station must be stopped anyway). Returns the old database's name; if the second
    rename fails, the first is undone."""
    parsed = _url(url)
    target = parsed.database
    old = f"{target}__old_{uuid.uuid4().hex[:8]}"[:63]
    admin = maintenance_engine(url)
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target}).first()
            if exists:
                _terminate(conn, target)
                conn.execute(sa.text(f"ALTER DATABASE {_q(target)} RENAME TO {_q(old)}"))
            try:
                _terminate(conn, new_name)
                conn.execute(sa.text(f"ALTER DATABASE {_q(new_name)} RENAME TO {_q(target)}"))
            except BaseException:
                if exists:
                    conn.execute(sa.text(f"ALTER DATABASE {_q(old)} RENAME TO {_q(target)}"))
                raise
    finally:
        admin.dispose()
    return old if exists else ""


def drop_database(url: str, name: str) -> None:
    if not name:
        return
    admin = maintenance_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_q(name)} WITH (FORCE)"))
    finally:
        admin.dispose()
