"""Accounts: users, their role in each commune, login sessions and API tokens, login attempts, setup tokens."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class Role(str, enum.Enum):
    """Roles inside a commune. The system admin is a flag on the user, not a commune role."""

    cadre = "cadre"  # cán bộ xã: approves, schedules, airs emergencies
    secretary = "secretary"  # bí thư đoàn: writes, records, submits
    village_head = "village_head"  # trưởng thôn: sees their village, requests announcements


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
    is_admin: bool = Field(default=False)
    is_active: bool = Field(default=True)
    # Set by an admin's password reset: the one-time password works only to choose a new one (api/deps.py).
    must_change_password: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class Membership(SQLModel, table=True):
    """A user's role in one commune; a village head is also tied to their village."""

    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("user_id", "commune_id", name="uq_memberships_user_commune"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    role: str = Field(max_length=20)
    village_id: int | None = Field(default=None, foreign_key="villages.id")
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class AuthToken(SQLModel, table=True):
    """A browser session (kind=session, sent as an httpOnly cookie) or an API bearer token (kind=bearer).

    Only the SHA-256 of the secret is stored, so a leaked database does not leak live credentials."""

    __tablename__ = "auth_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=10)
    name: str = Field(default="", max_length=100)
    # The browser or client that opened it, so a person can tell their own phone from a stranger's session.
    user_agent: str = Field(default="", max_length=200)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LoginAttempt(SQLModel, table=True):
    """Persisted so rate limiting holds across restarts and across worker processes."""

    __tablename__ = "login_attempts"
    __table_args__ = (sa.Index("ix_login_attempts_user_ip_at", "username", "ip", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ip: str = Field(max_length=64)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    success: bool = Field(default=False)


class SetupToken(SQLModel, table=True):
    """One-time token printed at first start (no users yet) to create the first admin from the browser."""

    __tablename__ = "setup_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AreaMembership(SQLModel, table=True):
    """A user's role at a province or a district (issue 16): `editor` composes bulletins, `approver` approves
    and sends them. The same two-person rule as in a commune: nobody approves what they wrote or changed."""

    __tablename__ = "area_memberships"
    __table_args__ = (sa.UniqueConstraint("user_id", "level", "area_id", name="uq_area_memberships_user_area"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    level: str = Field(max_length=10)  # province | district
    area_id: int  # provinces.id or districts.id, as `level` says
    role: str = Field(max_length=20)  # editor | approver
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
