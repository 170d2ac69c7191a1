"""The jobs table: one row per piece of background work, claimed under a lease."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_claim", "status", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    payload: dict = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=QUEUED, max_length=16)
    attempts: int = 0
    max_attempts: int = 5
    run_after: datetime = Field(sa_type=UtcDateTime, nullable=False)
    locked_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    locked_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=2000)
    result: dict | None = Field(default=None, sa_type=sa.JSON)
    commune_id: int | None = Field(default=None, foreign_key="communes.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    object_type: str | None = Field(default=None, max_length=32)
    object_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
