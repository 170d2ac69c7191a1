"""Delivered outbox messages are deleted by the pump once older than LOA_INTERCHANGE_OUTBOX_RETENTION_DAYS
(default 30), at fixed instants, on SQLite and PostgreSQL: never an undelivered one, never one the collection
still finds (a scheduled bulletin's status until it expires), never a bulletin not expired yet; the receiver
keeps its own record, so a message sent again after its row was deleted gets the stored receipt."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from loa.db import session_scope
from tests.broadcaster.interchange import stations


def _pump(st, now, **overrides):
    from broadcaster.interchange import outbox

    settings = st.settings.model_copy(update=overrides) if overrides else st.settings
    return outbox.pump(st.engine, st.me, settings, now)


def _rows(st) -> dict[tuple[str, str, int], str]:
    return {(r.kind, r.object_id, r.version): r.status for r in stations.outbox_rows(st)}


def test_the_default_is_thirty_days():
    from loa.settings import Settings

    assert Settings.model_fields["interchange_outbox_retention_days"].default == 30.0


def test_delivered_rows_go_after_the_retention_undelivered_and_still_collected_ones_stay(pair):
    from broadcaster.interchange.models import DELIVERED, PENDING, OutboxMessage, ReceivedMessage

    p, c, clock = pair.province, pair.commune, pair.clock
    t0 = clock()
    bulletin = stations.approved_bulletin(p, pair.facts, t0)
    stations.send(p, bulletin, "priority", t0, hours=48)  # scheduled at once on the commune, expires at t0+48h
    assert _pump(p, t0)["delivered"] == 1
    assert _pump(c, t0)["delivered"] >= 1
    [status] = [k for k, v in _rows(c).items() if k[0] == "status" and v == DELIVERED]
    [original] = [r.body for r in stations.outbox_rows(c) if r.object_id == status[1]]

    # an hour later, with a 6-minute retention: the scheduled bulletin's status is found again by every
    # collection until it expires, so its row stays (and nothing is sent twice)
    reports = {k for k, v in _rows(c).items() if k[0] == "report"}  # yesterday's, sent at t0: not collected again
    assert reports
    t1 = t0 + timedelta(hours=1)
    result = _pump(c, t1, interchange_outbox_retention_days=0.004)
    assert (result["pruned"], result["delivered"]) == (len(reports), 0)
    assert _rows(c)[status] == DELIVERED and not reports & set(_rows(c))
    # the province's bulletin is not expired yet: kept whatever the age
    assert _pump(p, t1, interchange_outbox_retention_days=0.004)["pruned"] == 0

    # the province goes offline; what the commune collects from now on waits, undelivered
    pair.p_live.stop()
    t2 = t0 + timedelta(days=3)
    _pump(c, t2)
    waiting = {k for k, v in _rows(c).items() if v == PENDING}
    assert waiting and all(kind == "report" for kind, _, _ in waiting)

    # the province's bulletin row (delivered at t0): kept until 30 days have passed, gone just after
    assert _pump(p, t0 + timedelta(days=30) - timedelta(seconds=1))["pruned"] == 0
    assert ("bulletin", str(bulletin), 1) in _rows(p)
    assert _pump(p, t0 + timedelta(days=30, seconds=1))["pruned"] == 1
    assert ("bulletin", str(bulletin), 1) not in _rows(p)

    # the commune, 31 days on: the delivered status rows go (the bulletin expired, nothing collects them
    # again); the reports that never got through stay, however old
    t3 = t0 + timedelta(days=31)
    assert _pump(c, t3)["pruned"] >= 1
    after = _rows(c)
    assert status not in after and not any(v == DELIVERED and k[0] == "status" for k, v in after.items())
    assert waiting <= {k for k, v in after.items() if v == PENDING}

    # the province still holds its record of the status, so the same message sent again gets the stored
    # receipt ("duplicate") and changes nothing
    clock.now = t3  # the province's clock too (a signed message's time is checked against it)
    pair.p_live.start()
    with session_scope(p.engine) as s:
        assert s.exec(select(ReceivedMessage).where(ReceivedMessage.kind == "status",
                                                    ReceivedMessage.object_id == status[1])).first() is not None
    from broadcaster.interchange import outbox
    from broadcaster.interchange.models import InterchangePeer

    with session_scope(c.engine) as s:
        upper = s.exec(select(InterchangePeer)).one()
        upper.next_attempt_at, upper.failures = None, 0
        s.add(upper)
        s.add(OutboxMessage(peer_id=upper.id, kind="status", object_id=status[1], version=status[2],
                            body=original, created_at=t3))
    outbox.deliver_due(c.engine, c.me, c.settings, t3)
    with session_scope(c.engine) as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.object_id == status[1])).one()
        assert row.status == DELIVERED and row.receipt["outcome"] == "duplicate"
