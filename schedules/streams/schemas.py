"""Request and response shapes of the relay streams API."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["national", "provincial", "district", "other"]
RowId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="as cadres know it, e.g. VOV1")
    url: str = Field(min_length=1, max_length=2000, description="a public http(s) audio stream")
    kind: Kind = "national"
    commune_id: RowId | None = Field(default=None, description="only for this commune; none: every commune")
    enabled: bool = True
    check_now: bool = Field(default=False, description="fetch a second of the stream before saving")


class StreamPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    kind: Kind | None = None
    commune_id: RowId | None = None
    all_communes: bool = Field(default=False, description="offer it to every commune again (commune_id → none)")
    enabled: bool | None = None
    check_now: bool = False


class StreamOut(BaseModel):
    id: int
    name: str
    url: str
    kind: str
    commune_id: int | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
