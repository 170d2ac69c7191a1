"""Alembic environment: the metadata of every table module, and the engine handed over by loa.db.upgrade."""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from loa.db import make_engine
from loa.migrations.registry import import_models

import_models()
target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
