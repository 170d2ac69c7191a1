"""Prometheus metrics of a station, read from the database (so every API replica reports the same numbers).

Cheap by design: a scrape every 15 s from each replica must not scan the proof-of-play table, which grows by
devices × plays per day. Plays are counted incrementally per process: once fully, then only rows with an id
above the last one seen (a primary-key range scan)."""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from loa.db import UtcDateTime
from station.ops.backup import _version

ONLINE = ("online", "playing")


@dataclass
class Sample:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # gauge | counter
    help: str


FAMILIES = [
    Family("loa_build_info", "gauge", "Loa version of this process"),
    Family("loa_devices", "gauge", "Enrolled devices by status as the station records it"),
    Family("loa_devices_online", "gauge", "Enrolled devices heard from within the offline threshold"),
    Family("loa_devices_offline", "gauge", "Enrolled, not revoked devices silent for longer than the offline threshold"),
    Family("loa_device_alerts_open", "gauge", "Unresolved device alerts by kind"),
    Family("loa_plays_total", "counter", "Proof-of-play records received, by result"),
    Family("loa_play_failures_total", "counter", "Proof-of-play records with result failed"),
    Family("loa_jobs", "gauge", "Background jobs by status"),
    Family("loa_jobs_due", "gauge", "Queued jobs whose time has come (the queue depth workers must drain)"),
    Family("loa_job_oldest_due_age_seconds", "gauge", "Age of the oldest due queued job (0 when none)"),
    Family("loa_emergencies_airing", "gauge", "Emergencies currently airing"),
    Family("loa_scheduler_last_run_timestamp_seconds", "gauge",
           "Newest timetable computation by the scheduler (unix time; 0 = never)"),
    Family("loa_scheduler_last_run_age_seconds", "gauge", "Seconds since the scheduler last computed a timetable"),
    Family("loa_metrics_scrape_duration_seconds", "gauge", "Time spent collecting these metrics"),
]


class PlayCounter:
    """Counts device_plays by result without rescanning the table each scrape."""

    def __init__(self) -> None:
        self.last_id = 0
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def update(self, conn) -> Counter[str]:
        with self._lock:
            top = conn.execute(sa.text("SELECT max(id) FROM device_plays")).scalar() or 0
            if top < self.last_id:  # the table was emptied (restore): start again
                self.last_id, self.counts = 0, Counter()
            if top > self.last_id:
                rows = conn.execute(sa.text("SELECT result, count(*) FROM device_plays WHERE id > :a AND id <= :b "
                                            "GROUP BY result"), {"a": self.last_id, "b": top})
                for result, n in rows:
                    self.counts[result] += n
                self.last_id = top
            return Counter(self.counts)


def _ts(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):  # SQLite returns aggregate results as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def collect(engine: Engine, now: datetime, offline_after_s: float, plays: PlayCounter | None = None) -> list[Sample]:
    started = time.perf_counter()
    plays = plays or PlayCounter()
    limit = now - timedelta(seconds=offline_after_s)
    out = [Sample("loa_build_info", 1, {"version": _version()})]
    with engine.connect() as conn:
        enrolled = "enrolled_at IS NOT NULL AND revoked_at IS NULL"
        for status, n in conn.execute(sa.text(f"SELECT status, count(*) FROM devices WHERE {enrolled} GROUP BY status")):
            out.append(Sample("loa_devices", n, {"status": status}))
        online = conn.execute(_at(f"SELECT count(*) FROM devices WHERE {enrolled} AND last_seen >= :t"),
                              {"t": limit}).scalar() or 0
        total = conn.execute(sa.text(f"SELECT count(*) FROM devices WHERE {enrolled}")).scalar() or 0
        out += [Sample("loa_devices_online", online), Sample("loa_devices_offline", total - online)]
        for kind, n in conn.execute(sa.text("SELECT kind, count(*) FROM device_alerts WHERE resolved_at IS NULL "
                                            "GROUP BY kind")):
            out.append(Sample("loa_device_alerts_open", n, {"kind": kind}))
        counts = plays.update(conn)
        for result in sorted(set(counts) | {"played", "skipped", "interrupted", "failed"}):
            out.append(Sample("loa_plays_total", counts.get(result, 0), {"result": result}))
        out.append(Sample("loa_play_failures_total", counts.get("failed", 0)))
        by_status = dict(conn.execute(sa.text("SELECT status, count(*) FROM jobs GROUP BY status")).all())
        for status in sorted(set(by_status) | {"queued", "running", "succeeded", "failed"}):
            out.append(Sample("loa_jobs", by_status.get(status, 0), {"status": status}))
        due = conn.execute(_at("SELECT count(*), min(run_after) FROM jobs WHERE status = 'queued' "
                               "AND run_after <= :t"), {"t": now}).one()
        out.append(Sample("loa_jobs_due", due[0] or 0))
        oldest = _ts(due[1])
        out.append(Sample("loa_job_oldest_due_age_seconds", max(0.0, now.timestamp() - oldest) if oldest else 0.0))
        airing = conn.execute(sa.text("SELECT count(*) FROM emergencies WHERE status = 'airing'")).scalar() or 0
        out.append(Sample("loa_emergencies_airing", airing))
        last = _ts(conn.execute(sa.text("SELECT max(computed_at) FROM device_timetables")).scalar())
        out.append(Sample("loa_scheduler_last_run_timestamp_seconds", last))
        out.append(Sample("loa_scheduler_last_run_age_seconds", max(0.0, now.timestamp() - last) if last else -1.0))
    out.append(Sample("loa_metrics_scrape_duration_seconds", round(time.perf_counter() - started, 6)))
    return out


def _at(sql: str) -> sa.TextClause:
    """`:t` bound as the columns store time (UtcDateTime: SQLite keeps SQLAlchemy's text form, so a plain
    datetime parameter would compare as different text)."""

    return sa.text(sql).bindparams(sa.bindparam("t", type_=UtcDateTime()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(samples: list[Sample]) -> str:
    """Prometheus text exposition format 0.0.4."""
    by_name: dict[str, list[Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    lines = []
    for fam in FAMILIES:
        if fam.name not in by_name:
            continue
        lines += [f"# HELP {fam.name} {fam.help}", f"# TYPE {fam.name} {fam.kind}"]
        for s in by_name[fam.name]:
            labels = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(s.labels.items()))
            lines.append(f"{s.name}{{{labels}}} {_number(s.value)}" if labels else f"{s.name} {_number(s.value)}")
    return "\n".join(lines) + "\n"
