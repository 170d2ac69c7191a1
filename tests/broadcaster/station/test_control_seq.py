"""The control sequence lives in the database (SQLite and PostgreSQL): disjoint increasing blocks under
concurrent allocation, shared by every engine (an API replica, the scheduler), raised by a device's report
after a restore, and stamped on every manifest the station signs."""
from __future__ import annotations

import threading

from broadcaster.station.seq import allocate, allocate_in, at_least
from loa.db import make_engine, session_scope
from tests.broadcaster.station.device_rig import DEV, dh, enroll_by_code


def test_blocks_are_disjoint_and_increasing_across_threads_and_engines(engine, db_url):
    other = make_engine(db_url)  # a second process's engine (another API replica)
    got: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def take(eng, n):
        try:
            first = allocate(eng, n)
        except BaseException as e:  # noqa: BLE001  (a thread's error would otherwise only be a warning)
            with lock:
                errors.append(e)
            return
        with lock:
            got.append((first, n))

    threads = [threading.Thread(target=take, args=(engine if i % 2 else other, 1 + i % 3)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(got) == len(threads)  # every allocation answered, not only those that got a connection
    numbers = sorted(x for first, n in got for x in range(first, first + n))
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no number twice, none skipped
    with session_scope(engine) as s:
        inside = allocate_in(s)
    assert inside == numbers[-1] + 1
    with session_scope(other) as s:
        at_least(s, inside + 1000)  # a device reports a floor this (restored) database never issued
        at_least(s, 5)              # never lowered
    assert allocate(engine) == inside + 1001
    other.dispose()


def test_every_signed_manifest_carries_a_newer_seq(client, world, facts, clock, engine, schedules_service):
    _, creds = enroll_by_code(client, world)
    before = allocate(engine)
    r = client.get(f"{DEV}/manifest", headers=dh(creds))
    assert r.status_code == 200, r.text
    assert r.json()["manifest"]["seq"] > before
