"""Timetable bench: 72 h for 10,000 devices in 1,000 villages with 5 rules each.

Prints one JSON line per figure (see .helpers/COMMON.md). Baselines are measured in the same
run: a naive materializer that expands every rule once per device and resolves every device
on its own (no sharing of per-village work), and a full re-materialization for the
one-rule-change case.

    .venv/bin/python bench/timetable.py [--villages 1000] [--per-village 10]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import resource
import sys
import time as clock
import tracemalloc
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from schedules.model import (
    BilingualPair, Item, OneOff, Play, Priority, Programme, Recurring, Relay, Rule, Silence,
    StationSettings, Targets, Topology,
)
from schedules.resolve import resolve
from schedules.timetable import materialize, rematerialize, rule_candidates

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 4, 30, tzinfo=TZ)
CREATED = datetime(2026, 1, 1, tzinfo=TZ)


def item(cid: str, seconds: float, lang: str = "vi") -> Item:
    return Item(cid, hashlib.sha256(cid.encode()).hexdigest(), seconds, f"Bản tin {cid}", lang)


def build(villages: int, per_village: int) -> tuple[Topology, list[Rule]]:
    vs = tuple(f"v{i:04d}" for i in range(villages))
    topo = Topology({"xa": vs}, {v: tuple(f"{v}-d{j:02d}" for j in range(per_village)) for v in vs})
    rules: list[Rule] = []
    for n, v in enumerate(vs):
        t = Targets.of(villages=[v])
        pair = BilingualPair(item(f"vneid-vi-{n % 50}", 240), item(f"vneid-giay-{n % 50}", 260, "giay"))
        rules += [
            # every day at 06:00 and 17:00: Vietnamese then Giáy, since January (exercises old dtstarts)
            Rule(f"{v}-daily", Recurring("FREQ=DAILY;UNTIL=20261231", CREATED, (time(6), time(17))), t,
                 Programme((pair, Silence(3)), repeat=2), Priority.NORMAL, CREATED),
            # weekday lunchtime news
            Rule(f"{v}-weekdays", Recurring("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", CREATED, (time(11, 30),)), t,
                 Programme((item(f"news-{n % 20}", 900),)), Priority.NORMAL, CREATED),
            # national radio relay, Saturday and Sunday 19:00
            Rule(f"{v}-relay", Recurring("FREQ=WEEKLY;BYDAY=SA,SU", CREATED, (time(19),)), t,
                 Programme((Relay("https://radio.example.vn/vov1.m3u8", 1800, "VOV1"),)), Priority.NORMAL,
                 CREATED),
            # monthly health reminder on the 20th and 21st at 06:10: collides with the daily slot
            Rule(f"{v}-monthly", Recurring("FREQ=MONTHLY;BYMONTHDAY=20,21", CREATED, (time(6, 10),)), t,
                 Programme((item(f"health-{n % 10}", 600),)), Priority.PRIORITY, CREATED),
            # a one-off priority notice tomorrow at 17:05, also colliding
            Rule(f"{v}-notice", OneOff(NOW.replace(hour=17, minute=5) + timedelta(days=1)), t,
                 Programme((item(f"notice-{n}", 300),)), Priority.PRIORITY, CREATED),
        ]
    return topo, rules


def naive_materialize(rules, topo, start, end, now, settings):
    """Baseline: every device expands each of its rules itself and is resolved on its own."""
    out: dict[str, tuple[Play, ...]] = {}
    always = lambda _c, _t: True  # noqa: E731
    known = [r for r in rules if r.created_at <= now]
    for dev in topo.all_devices():
        cands = []
        for r in known:
            if topo.targets_device(r.targets, dev):
                cands.extend(rule_candidates(r, start, end, settings, always)[0])
        placed, _ = resolve(cands, settings)
        out[dev] = tuple(Play(dev, p.rule.id, p.start, p.end, p.rule.priority, p.segments, p.planned,
                              p.rule.version, p.interrupted, p.rule.title)
                         for p in placed if p.end > start and p.start < end)
    return out


def timed(fn, repeat=1):
    best, result = None, None
    for _ in range(repeat):
        gc.collect()
        t0 = clock.perf_counter()
        result = fn()
        dt = clock.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, result


def emit(figure, value, unit, target, baseline_name=None, baseline_value=None, **extra):
    line = {"figure": figure, "value": round(value, 4), "unit": unit, "target": target}
    if baseline_name:
        line["baseline"] = {"name": baseline_name, "value": round(baseline_value, 4)}
    line.update(extra)
    print(json.dumps(line, ensure_ascii=False), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--villages", type=int, default=1000)
    ap.add_argument("--per-village", type=int, default=10)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    settings = StationSettings()
    topo, rules = build(args.villages, args.per_village)
    start, end = NOW, NOW + timedelta(hours=72)
    ndev = len(topo.all_devices())

    t_full, tt = timed(lambda: materialize(rules, topo, start, end, NOW, settings), repeat=3)
    plays = sum(len(v) for v in tt.values())
    dropped = sum(len(v) for v in tt.dropped.values())
    shifted = sum(1 for v in tt.values() for p in v if p.shifted)
    if args.skip_naive:
        t_naive = float("nan")
    else:
        t_naive, naive = timed(lambda: naive_materialize(rules, topo, start, end, NOW, settings))
        assert naive == tt.plays, "the naive baseline must produce the same plays"
    emit("materialize_72h_wall", t_full, "s", "< 5", "naive per-device expansion", t_naive,
         devices=ndev, villages=args.villages, rules=len(rules), plays=plays, shifted=shifted, dropped=dropped)

    # peak memory: Python allocations during materialize (tracemalloc), and the process max RSS
    del tt
    gc.collect()
    tracemalloc.start()
    tt = materialize(rules, topo, start, end, NOW, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    naive_peak = float("nan")
    if not args.skip_naive:
        del naive
        gc.collect()
        tracemalloc.start()
        naive = naive_materialize(rules, topo, start, end, NOW, settings)
        naive_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        del naive
    emit("materialize_72h_peak_alloc", peak / 2**20, "MiB", "< 1024", "naive per-device expansion", naive_peak)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit("process_max_rss", rss, "MiB", "< 1024", note="whole bench process, includes the baselines")

    # one rule changes: the daily slot of one village moves from 06:00/17:00 to 06:30/17:30
    old = rules[0]
    new = replace(old, recurrence=Recurring(old.recurrence.rrule, CREATED, (time(6, 30), time(17, 30))),
                  version=2)
    rules2 = [new] + rules[1:]
    t_inc, inc = timed(lambda: rematerialize(tt, old, new, rules2, topo, NOW, settings), repeat=5)
    t_again, full2 = timed(lambda: materialize(rules2, topo, start, end, NOW, settings), repeat=3)
    assert inc.plays == full2.plays, "incremental must equal full re-materialization"
    changed = sum(1 for d in topo.all_devices() if inc[d] != tt[d])
    emit("rematerialize_one_rule_wall", t_inc * 1000, "ms", "< 200", "full re-materialization", t_again * 1000,
         devices_changed=changed)


if __name__ == "__main__":
    sys.exit(main())
