"""Importing the shipped guidance pack: drafts to approve, never twice, only by editors of that commune."""
from __future__ import annotations

import pytest
from sqlmodel import select

from content.library.models import ContentItem, Status
from content.library.packs import import_pack
from content.packs import builtin_packs
from loa.accounts.models import User
from loa.accounts.service import principal_for
from loa.db import session_scope
from loa.errors import DomainError
from loa.jobs.models import Job


def _who(s, world, name):
    return principal_for(s, s.get(User, world.users[name]), "127.0.0.1", "bearer")


def test_pack_arrives_as_drafts_with_render_jobs(engine, world, clock):
    pack = builtin_packs()[0]
    with session_scope(engine) as s:
        result = import_pack(s, _who(s, world, "secretary"), world.a, pack, clock())
    assert len(result.created) == len(pack.items) and not result.already_there
    with session_scope(engine) as s:
        items = s.exec(select(ContentItem).where(ContentItem.commune_id == world.a)).all()
        assert {i.status for i in items} == {Status.draft.value}
        assert {i.title for i in items} == {e.title for e in pack.items}
        jobs = s.exec(select(Job)).all()
        assert sorted(j.payload["item_id"] for j in jobs) == sorted(i.id for i in items)


def test_second_import_adds_nothing(engine, world, clock):
    pack = builtin_packs()[0]
    with session_scope(engine) as s:
        import_pack(s, _who(s, world, "secretary"), world.a, pack, clock())
    with session_scope(engine) as s:
        again = import_pack(s, _who(s, world, "cadre"), world.a, pack, clock())
    assert not again.created and len(again.already_there) == len(pack.items)


@pytest.mark.parametrize("who, commune", [("village_head", "a"), ("outsider", "a")])
def test_only_editors_of_the_commune_import(engine, world, clock, who, commune):
    pack = builtin_packs()[0]
    with pytest.raises(DomainError):
        with session_scope(engine) as s:
            import_pack(s, _who(s, world, who), getattr(world, commune), pack, clock())
    with session_scope(engine) as s:
        assert s.exec(select(ContentItem)).all() == []
