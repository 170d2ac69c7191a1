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
    days: int = Field(default=90, description="1 to 365 (loa.accounts.auth.MAX_TOKEN_DAYS); longer is refused: "
                                              "422 token_too_long")


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


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    is_admin: bool | None = None


class OneTimePasswordOut(BaseModel):
    user_id: int
    username: str
    one_time_password: str = Field(description="Shown once: the user logs in with it and must choose a new "
                                               "password before anything else")
    must_change_password: bool = True


class CredentialOut(BaseModel):
    id: int
    kind: str = Field(description="session (a browser) or bearer (an API token)")
    name: str
    user_agent: str
    created_at: datetime
    expires_at: datetime
    current: bool = Field(description="The session or token of this very request")


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
    must_change_password: bool = False
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
