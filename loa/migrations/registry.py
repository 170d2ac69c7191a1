"""Every module that defines tables, imported so SQLModel.metadata is complete (for Alembic and tests).

Add a line here when a new domain package adds tables (schedules, broadcaster, …)."""
from __future__ import annotations

import importlib

MODEL_MODULES = [
    "loa.org.models",
    "loa.accounts.models",
    "loa.audit.models",
    "loa.jobs.models",
    "content.library.models",
    "schedules.tables",
    "broadcaster.station.models",
    "schedules.streams.models",
    "broadcaster.interchange.models",
    "schedules.bulletins.models",
    "broadcaster.station.live.models",
]


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
