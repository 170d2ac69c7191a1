"""The id of a row read from the database. Table models declare `id: int | None` (None until the INSERT), so a
type checker cannot know that a row a query returned, or one flushed, has one: `stored_id` says so with a check
instead of every caller guessing."""
from __future__ import annotations

from typing import Protocol


class _HasId(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: _HasId) -> int:
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: it was never flushed")
    return row.id
