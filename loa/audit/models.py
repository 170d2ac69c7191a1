"""The audit log table. Database triggers (see the initial migration) refuse UPDATE and DELETE on it."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)
    # The user id is kept without a foreign key and the username is copied: history outlives accounts.
    actor_user_id: int | None = None
    actor_username: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str | None = Field(default=None, max_length=64)
    commune_id: int | None = Field(default=None, index=True)
    detail: dict = Field(default_factory=dict, sa_type=sa.JSON)
