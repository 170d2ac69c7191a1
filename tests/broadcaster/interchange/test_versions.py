"""A corrected bulletin through the interchange (two real stations, SQLite and PostgreSQL): the province sends v1,
the commune's cadre accepts and schedules it; the province corrects it (v2, approved again) and sends it; on the
commune v1 is superseded and withdrawn from the timetable built at the fixed clock, v2 waits in the inbox; the
status going up shows the province v1 withdrawn there; v1 delivered again afterwards is refused."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from loa.db import session_scope
from tests.broadcaster.interchange import stations
from tests.broadcaster.station.live import wait_until


def _rules_from(st, now) -> set[str]:
    from schedules.tables import TimetablePlay

    with session_scope(st.engine) as s:
        return set(s.exec(select(TimetablePlay.rule_key).where(TimetablePlay.end > now)))


def _cadre_accepts(c, item_id: int, at, now):
    from loa.accounts.auth import CLI
    from loa.accounts.models import User
    from loa.accounts.service import add_membership, create_user, principal_for
    from schedules.bulletins import inbox

    with session_scope(c.engine) as s:
        user = create_user(s, CLI, "can-bo-xa", stations.PASSWORD, now)
        add_membership(s, CLI, user.id, c.ids["communes"][0], "cadre", now)
        s.flush()
        cadre = principal_for(s, s.get(User, user.id), "127.0.0.1", "bearer")
        from schedules.bulletins.schemas import AcceptIn

        return inbox.accept(s, cadre, item_id, AcceptIn(at=at), now).schedule_id


def _correct_and_send(p, bulletin_id: int, now) -> None:
    from loa.accounts.models import User
    from loa.accounts.service import principal_for
    from schedules.bulletins import compose
    from schedules.bulletins.schemas import BulletinEdit

    with session_scope(p.engine) as s:
        def who(key: str):
            return principal_for(s, s.get(User, p.ids[key]), "127.0.0.1", "bearer")

        row = compose.edit(s, who("editor"), bulletin_id, BulletinEdit(title="Phòng chống bão số 3 (đính chính)"),
                           lambda text, lang: None, now)  # a recording: nothing to render
        assert (row.version, row.status) == (2, "draft")
        compose.submit(s, who("editor"), bulletin_id, now)
        compose.approve(s, who("approver"), bulletin_id, row.audio_sha256, now)
    assert stations.send(p, bulletin_id, "normal", now, communes=[]) == p.ids["communes"]


def test_v2_through_the_interchange_withdraws_the_scheduled_v1(pair):
    from schedules.bulletins.models import BulletinDelivery, InboxItem

    p, c, clock = pair.province, pair.commune, pair.clock
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    stations.send(p, bulletin, "normal", clock(), hours=48)
    assert p.pump(clock())["delivered"] == 1
    [v1] = stations.inbox(c)
    schedule_id = _cadre_accepts(c, v1.id, clock() + timedelta(hours=3), clock())
    from schedules.service import service_for

    service_for(c.engine).materialize_commune(v1.commune_id, clock())
    assert f"s{schedule_id}" in _rules_from(c, clock())

    now = clock.advance(minutes=20)
    _correct_and_send(p, bulletin, now)
    rows = stations.outbox_rows(p)
    assert [(r.kind, r.version) for r in rows] == [("bulletin", 1), ("bulletin", 2)]
    assert p.pump(now)["delivered"] == 1
    old, new = stations.inbox(c)
    assert (old.version, old.state, old.superseded_by) == (1, "superseded", new.id)
    assert (new.version, new.state, new.title) == (2, "received", "Phòng chống bão số 3 (đính chính)")
    # after the receipt the commune's timetable is rebuilt at the fixed clock: v1's play is gone
    assert wait_until(lambda: f"s{schedule_id}" not in _rules_from(c, now))

    # status up: the province sees v1 withdrawn at Xã CS and v2 received
    assert c.pump(now)["delivered"] >= 1
    with session_scope(p.engine) as s:
        d = s.exec(select(BulletinDelivery).where(BulletinDelivery.bulletin_id == bulletin)).one()
        assert (d.version, d.state, d.superseded_version, d.superseded_at) == (2, "received", 1, now)

    # v1 sent again (a late copy from the province's side): refused as older, nothing changes on the commune
    from broadcaster.interchange import outbox
    from broadcaster.interchange.models import PENDING, OutboxMessage

    with session_scope(p.engine) as s:
        first = s.exec(select(OutboxMessage).where(OutboxMessage.version == 1)).one()
        first.status, first.receipt = PENDING, None
        s.add(first)
    outbox.deliver_due(p.engine, p.me, p.settings, now)
    with session_scope(p.engine) as s:
        first = s.exec(select(OutboxMessage).where(OutboxMessage.version == 1)).one()
        # the commune answers the exact same v1 with its stored receipt: a duplicate, not a new item
        assert first.status == "delivered" and first.receipt["outcome"] == "duplicate"
    with session_scope(c.engine) as s:
        assert [(i.version, i.state) for i in s.exec(select(InboxItem).order_by(InboxItem.id))] == [
            (1, "superseded"), (2, "received")]


def test_v1_arriving_after_v2_is_refused_as_older(pair):
    from broadcaster.interchange.models import OutboxMessage

    p, c, clock = pair.province, pair.commune, pair.clock
    bulletin = stations.approved_bulletin(p, pair.facts, clock())
    stations.send(p, bulletin, "priority", clock(), hours=48)
    with session_scope(p.engine) as s:  # v1 held back on the way (a slow path), v2 overtakes it
        held = s.exec(select(OutboxMessage)).one()
        held.status = "held"
        s.add(held)
    _correct_and_send(p, bulletin, clock())
    assert p.pump(clock())["delivered"] == 1
    with session_scope(p.engine) as s:
        held = s.exec(select(OutboxMessage).where(OutboxMessage.version == 1)).one()
        held.status = "pending"
        s.add(held)
    assert p.pump(clock())["refused"] == 1
    [v1] = [r for r in stations.outbox_rows(p) if r.version == 1]
    assert v1.status == "refused" and v1.last_error.startswith("interchange_version_old")
    assert [(i.version, i.state) for i in stations.inbox(c)] == [(2, "received")]  # v2 went as normal
