"""The admin-kept list of relay streams. A stream with no commune is offered to every commune (VOV1); one
with a commune only to that commune (a district station heard in one place)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime

KINDS = ("national", "provincial", "district", "other")


class RelayStream(SQLModel, table=True):
    __tablename__ = "relay_streams"
    __table_args__ = (sa.UniqueConstraint("name", name="uq_relay_streams_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    url: str = Field(max_length=2000)
    kind: str = Field(default="national", max_length=16)
    commune_id: int | None = Field(default=None, foreign_key="communes.id", index=True)
    enabled: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
