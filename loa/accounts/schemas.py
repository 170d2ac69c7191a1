"""Request and response shapes for accounts and login."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from loa.accounts.models import Role


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenLoginBody(LoginBody):
    name: str = Field(default="api", max_length=100, description="A label to recognise the token by")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="api", max_length=100)
    days: int = Field(default=90, ge=1, le=3650)


class SetupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(default="", max_length=200)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(default="", max_length=200)
    is_admin: bool = False


class MembershipSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commune_id: int
    role: Role
    village_id: int | None = None


class MembershipOut(BaseModel):
    commune_id: int
    role: Role
    village_id: int | None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    is_admin: bool
    is_active: bool
    created_at: datetime
    memberships: list[MembershipOut] = []


class MemberOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: Role
    village_id: int | None


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send back in the X-CSRF-Token header on POST/PATCH/DELETE")
    expires_at: datetime


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    access_token: str = Field(description="Shown once: send as `Authorization: Bearer <token>`")
    token_type: str = "bearer"
