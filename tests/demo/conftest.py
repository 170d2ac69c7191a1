from tests.server.conftest import (  # noqa: F401  (the database fixtures: SQLite and PostgreSQL)
    _cheap_argon2, app, client, clock, db_url, engine, pg_url, settings, sqlite_template,
)
