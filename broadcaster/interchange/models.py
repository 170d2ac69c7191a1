"""Tables of the interchange: pinned peers, the outbox, what was received (the idempotency record)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from loa.db import UtcDateTime


_Model = TypeVar("_Model", bound=SQLModel)


def existing(session: Session, model: type[_Model], key: Any) -> _Model:
    """A peer or an outbox row known to exist (read a moment ago): peers are disabled, never deleted, and outbox
    rows stay."""
    row = session.get(model, key)
    if row is None:
        raise ValueError(f"{model.__name__} {key!r} is gone")
    return row


UPPER, LOWER = "upper", "lower"  # the peer is the station above us (sends bulletins) / below us (a commune)
PENDING, DELIVERED, REFUSED, EXPIRED = "pending", "delivered", "refused", "expired"


class StationIdentity(SQLModel, table=True):
    """This station's interchange id when LOA_INTERCHANGE_STATION_ID is not set: one row, made at first use."""

    __tablename__ = "interchange_identity"

    id: int = Field(default=1, primary_key=True)
    station_id: str = Field(max_length=64)


class InterchangePeer(SQLModel, table=True):
    """Another station, registered by an admin with the public key read out from it (never learnt on first
    contact). `keys` maps key ids to base64 raw Ed25519 public keys; more than one while the peer rotates."""

    __tablename__ = "interchange_peers"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=8)  # upper | lower
    base_url: str = Field(max_length=500)
    keys: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    communes: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # a lower peer: the commune codes it runs
    enabled: bool = True
    # The outbox's backoff is per peer: a station that is offline is offline for all its messages.
    failures: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=2000)
    last_delivery_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_received_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status_cursor: datetime | None = Field(default=None, sa_type=UtcDateTime)  # status updates sent up to here
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class OutboxMessage(SQLModel, table=True):
    """One message to one peer. The body is stored unsigned; each attempt signs it with a fresh `sent_at`.
    Enqueueing the same (peer, kind, object, version) twice keeps one row."""

    __tablename__ = "interchange_outbox"
    __table_args__ = (
        sa.UniqueConstraint("peer_id", "kind", "object_id", "version", name="uq_interchange_outbox_message"),
        sa.Index("ix_interchange_outbox_due", "status", "peer_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    peer_id: int = Field(foreign_key="interchange_peers.id")
    kind: str = Field(max_length=16)  # bulletin | status | report
    object_id: str = Field(max_length=200)
    version: int = 1
    body: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=PENDING, max_length=16)
    attempts: int = 0
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=2000)
    receipt: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SharedAudio(SQLModel, table=True):
    """Audio a peer may download from us: the files of bulletins in its outbox (nothing else is served)."""

    __tablename__ = "interchange_shared_audio"

    peer_id: int = Field(foreign_key="interchange_peers.id", primary_key=True)
    sha256: str = Field(max_length=64, primary_key=True)


class ReceivedMessage(SQLModel, table=True):
    """Every message this station accepted, by (sender, kind, object, version): a re-delivery answers with the
    stored receipt and changes nothing; an older version than one accepted is refused."""

    __tablename__ = "interchange_received"
    __table_args__ = (
        sa.UniqueConstraint("sender", "kind", "object_id", "version", name="uq_interchange_received_message"),
        sa.Index("ix_interchange_received_object", "sender", "kind", "object_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    object_id: str = Field(max_length=200)
    version: int = 1
    digest: str = Field(max_length=64)  # sha256 of the body without sender time: same version, same content
    result: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
