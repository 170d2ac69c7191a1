"""Province benchmark (issue 16, "Scale"). Prints one JSON line per figure (format: .helpers/COMMON.md).

One function per figure, so each part of the issue adds its own (`FIGURES` at the bottom):

- `rollup_figure` (province16): a province of 1,000 communes in 20 districts with 30 days of stored daily
  reports each (30,000 `commune_day_reports` rows, as the communes' stations sent them up), rolled up by day to
  province, districts and communes with `schedules.bulletins.rollup.rollup` (target < 2 s); also by month.
  Baseline: the same sums made commune by commune (one query per commune, the obvious first way).
- the delivery of a priority bulletin to 1,000 communes × 10 loudspeakers (interchange16) goes beside it.

Usage: .venv/bin/python bench/province_bulletin.py [--communes N] [--days D] [--db-url URL] [--only NAME]
The database is a fresh SQLite file in a temporary directory unless --db-url names an empty PostgreSQL one.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loa.db import make_engine, session_scope, upgrade  # noqa: E402
from loa.org import areas  # noqa: E402
from loa.org.models import Commune, District, Province  # noqa: E402
from schedules.bulletins.models import CommuneDayReport  # noqa: E402
from schedules.bulletins.rollup import Figures, rollup  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=TZ)
KINDS = ("directive", "guidance", "news", "emergency", "chime")
LEVELS = ("normal", "priority", "emergency")


def line(figure: str, value: float, unit: str, target: str, baseline: dict | None = None, **extra) -> None:
    out = {"figure": figure, "value": round(value, 3), "unit": unit, "target": target}
    if baseline is not None:
        out["baseline"] = baseline
    out.update(extra)
    print(json.dumps(out, ensure_ascii=False), flush=True)


def build_province(engine, communes: int, days: int, districts: int = 20, seed: int = 16) -> tuple[int, date, date]:
    """A province, its districts and communes, and `days` stored daily reports per commune (bulk inserted)."""
    rng = random.Random(seed)
    last = NOW.date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    with session_scope(engine) as s:
        p = Province(name="Lào Cai", code="LC", created_at=NOW)
        s.add(p)
        s.flush()
        ds = [District(province_id=p.id, name=f"Huyện {i + 1}", code=f"D{i + 1}", created_at=NOW)
              for i in range(districts)]
        s.add_all(ds)
        s.flush()
        cs = [Commune(province_id=p.id, district_id=ds[i % districts].id, name=f"Xã {i + 1}", code=f"C{i + 1}",
                      created_at=NOW) for i in range(communes)]
        s.add_all(cs)
        s.flush()
        province_id, commune_ids = p.id, [c.id for c in cs]
    rows = []
    for cid in commune_ids:
        for n in range(days):
            day = (first + timedelta(days=n)).isoformat()
            kinds = {k: round(rng.uniform(0, 1800), 1) for k in rng.sample(KINDS, 3)}
            levels = {"normal": round(sum(kinds.values()) * 0.8, 1), "priority": round(sum(kinds.values()) * 0.2, 1)}
            plays = rng.randint(20, 60)
            rows.append({"commune_id": cid, "day": day, "seconds_by_kind": kinds, "seconds_by_level": levels,
                         "plays": plays, "completed": plays - 3, "interrupted": 2, "failed": 1,
                         "device_seconds": 10 * 86400.0, "up_seconds": 10 * 86400.0 - rng.uniform(0, 7200),
                         "source": "remote", "computed_at": NOW})
    with engine.begin() as conn:
        conn.execute(sa.insert(CommuneDayReport.__table__), rows)
    return province_id, first, last


def per_commune_baseline(session: Session, area: areas.Area, first: str, last: str) -> Figures:
    """The same total, one query per commune."""
    total = Figures()
    for c in areas.communes_of(session, area):
        for r in session.exec(select(CommuneDayReport).where(CommuneDayReport.commune_id == c.id,
                                                             CommuneDayReport.day >= first,
                                                             CommuneDayReport.day <= last)):
            total.add_row(r)
    return total


def rollup_figure(engine, args) -> None:
    province_id, first, last = build_province(engine, args.communes, args.days)
    timings, monthly, base = [], [], []
    for _ in range(args.reps):
        with Session(engine) as s:
            area = areas.get_area(s, "province", province_id)
            t0 = time.perf_counter()
            result = rollup(s, area, first.isoformat(), last.isoformat(), "day")
            timings.append(time.perf_counter() - t0)
        with Session(engine) as s:
            t0 = time.perf_counter()
            rollup(s, area, first.isoformat(), last.isoformat(), "month")
            monthly.append(time.perf_counter() - t0)
        with Session(engine) as s:
            t0 = time.perf_counter()
            check = per_commune_baseline(s, area, first.isoformat(), last.isoformat())
            base.append(time.perf_counter() - t0)
    assert result.total.reports == args.communes * args.days == check.reports
    assert abs(result.total.minutes - check.minutes) < 1e-6 * max(1.0, check.minutes)
    line("province_rollup_by_day_s", statistics.median(timings), "s", "< 2.0",
         {"name": "one query per commune", "value": round(statistics.median(base), 3)},
         communes=args.communes, days=args.days, districts=len(result.districts), rows=result.total.reports,
         database=engine.dialect.name)
    line("province_rollup_by_month_s", statistics.median(monthly), "s", "< 2.0",
         {"name": "one query per commune", "value": round(statistics.median(base), 3)},
         communes=args.communes, days=args.days, database=engine.dialect.name)


def delivery_figure(engine, args) -> None:
    """interchange16: a priority bulletin to 1,000 communes × 10 loudspeakers over the interchange
    (bench/province_delivery.py says what runs and why it is representative)."""
    from bench.province_delivery import delivery_figure as run

    run(engine, args, line)


FIGURES = {"rollup": rollup_figure, "delivery": delivery_figure}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communes", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--only", choices=sorted(FIGURES), default=None)
    ap.add_argument("--loudspeakers", type=int, default=10, help="per commune (the delivery figure)")
    ap.add_argument("--delivery-timeout", type=float, default=300, help="seconds before the delivery figure gives up")
    args = ap.parse_args()
    for name, figure in FIGURES.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(args.db_url or f"sqlite:///{tmp}/loa.db")
            upgrade(engine)
            try:
                figure(engine, args)
            finally:
                engine.dispose()


if __name__ == "__main__":
    main()
