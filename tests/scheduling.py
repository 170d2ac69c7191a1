"""How `python3 dev.py test` (pytest-xdist) shares the test files among its workers.

Most of the suite's time is waiting, not computing: real agents playing in real time, uvicorn and Chromium
starting, PostgreSQL committing. Measured one directory at a time with `-n 0`, tests/broadcaster/station
used 110 s of CPU in 446 s, tests/api/web 123 s in 389 s. So:

- `-n auto` starts three workers per core (at least 4, at most 12), not one: while one worker waits for an
  agent to play, another computes. On a 2-core machine, whole strict runs took 427 s with 4 workers and a median
  of 348 s with 6 (five runs); the README's command on a fresh machine with only Python 299 s with 4 and 242 s
  with 6. On a slower 2-core machine (December 2026) both are CPU-bound and the difference is within its noise:
  368 s fresh with 4, 350 and 400 s with 6. Six once made real-time tests fail under the load: a live box gave
  up on the phone's first slice after 3 s (a fault of the agent, fixed), and once, in CI, an HLS relay (not
  seen again: three strict runs and one clean-clone CI at 6 passed whole). On a third 2-core machine the fresh
  run at 6 took 293 s, then 273, 306, 342 and 370 s with the warm-up of dev.py (`warm_test_modules`): there the
  run is CPU-bound from the first test to the last (all six workers end within 8 s of each other), so only
  less CPU makes it shorter. That machine slowed down during the session: the same collection took 3.2 s at
  its start and 4.5 s at its end, and the fresh run took 370 s then (545 busy core-seconds became 741).
  At most 12: a worker holds up to ~9 PostgreSQL connections at its peak and the server allows 100.
- Files still stay whole on one worker (their module-scoped browser or server is built once), but they are
  handed out longest first, from the per-file times in tests/durations.json, so the long files do not start
  last and leave one worker running alone at the end (xdist's own order is by number of tests). A file not in
  that record counts as its number of tests times the median seconds per test.
- The few files in SPREAD, whose tests each start their own station and agents and share nothing costly, are
  split test by test, so that no single file sets a floor under the whole run.
- Waiting files and computing files are mixed through the whole run, by the CPU each used in the recorded run.
  Longest first alone queued the ~40 live tests (each ~10 s of real time for ~1 CPU-s) next to each other: in a
  fresh run all six workers ran them at once for ~50 s in the middle of the run, the CPU ~45 % idle there
  (vmstat, 10 s windows), while the computing files waited in the queue behind them. Now a worker asking for
  work gets the longest queued unit of the kind the running units are short of (`next_scope`), so the mix
  holds however the run differs from the record (on a machine without Icecast or qemu whole waiting files skip
  in a moment). The fresh run on this machine (with a per-test CPU profiler): 259.7 s longest first, 232-233 s
  with a mix by the average CPU, 221.6 s with `_waits` as now.

Refresh the record after adding slow tests: `LOA_TEST_DURATIONS_WRITE=1 python3 dev.py test` (it only orders
the work; a stale record costs time, never correctness). Each file's entry is `[seconds, CPU-seconds]`: the sum
of its tests' setup, call and teardown times, and the CPU its worker process used for them, with the children it
reaped (agents, stations, ffmpeg)."""
from __future__ import annotations

import json
import os
import resource
import statistics
from collections import defaultdict
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
WRITE_ENV = "LOA_TEST_DURATIONS_WRITE"
# Each test of these files starts its own live station and real agent processes (function-scoped) and only
# shares session-scoped recordings: running its tests on several workers costs one recording per worker.
SPREAD = frozenset({
    "tests/broadcaster/station/test_control_live.py",
    # relays and live sessions with real agents in real time: 350, 107 and 104 s a file in one run (module-scoped
    # Icecast radio in test_relay_live: one per worker that takes a test of it, ~0.2 s)
    "tests/broadcaster/station/test_relay_live.py",
    "tests/broadcaster/station/test_live_join.py",
    "tests/broadcaster/station/test_live_agents.py",
})


def auto_workers(cores: int) -> int:
    """Workers for `-n auto`: three per core, at least 4, at most 12 (the suite is mostly waiting, see the
    docstring)."""
    return min(12, max(4, 3 * cores))


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class Record(NamedTuple):
    """One file's recorded cost: wall seconds, and CPU-seconds (None where the record has no CPU figure)."""

    seconds: float
    cpu: float | None = None


def _record(value: object) -> Record:
    if isinstance(value, (int, float)):  # the older record: seconds only
        return Record(float(value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        seconds, cpu = value
        return Record(float(seconds), None if cpu is None else float(cpu))
    raise ValueError(f"not a duration record: {value!r}")


def load_durations(path: Path | None = None) -> dict[str, Record]:
    try:
        return {k: _record(v) for k, v in json.loads((path or DURATIONS).read_text()).items()}
    except (OSError, ValueError, TypeError):
        return {}


class Unit(NamedTuple):
    scope: str  # a file, or one test of a SPREAD file
    nodeids: list[str]
    seconds: float
    cpu: float


class Plan(NamedTuple):
    order: list[Unit]  # the queue, longest first
    waiting: frozenset[str]  # the scopes of the units that mostly wait (`_waits`)
    waiting_share: float  # their part of all the units' seconds


def work_units(collection: list[str], durations: Mapping[str, Record | float]) -> list[tuple[str, list[str]]]:
    """The collection cut into units (a whole file, or one test of a SPREAD file), longest first."""
    return [(u.scope, u.nodeids) for u in work_plan(collection, durations).order]


def work_plan(collection: list[str], durations: Mapping[str, Record | float]) -> Plan:
    """The units of `work_units`, with which of them mostly wait."""
    units: dict[str, list[str]] = {}
    for nodeid in collection:
        path = file_of(nodeid)
        units.setdefault(nodeid if path in SPREAD else path, []).append(nodeid)
    counts: dict[str, int] = defaultdict(int)
    for nodeid in collection:
        counts[file_of(nodeid)] += 1
    records = {f: _record(r) for f, r in durations.items()}
    known = [records[f].seconds / n for f, n in counts.items() if f in records and n]
    per_test = statistics.median(known) if known else 1.0
    with_cpu = [records[f] for f in counts if f in records and records[f].cpu is not None]
    recorded_seconds = sum(r.seconds for r in with_cpu)
    share = sum(r.cpu or 0.0 for r in with_cpu) / recorded_seconds if recorded_seconds > 0 else 0.0

    def unit(scope: str, nodeids: list[str]) -> Unit:
        path = file_of(scope)
        record = records.get(path)
        part = len(nodeids) / counts[path]
        seconds = record.seconds * part if record else per_test * len(nodeids)
        # a file with no CPU figure counts as the recorded files' average: neither waiting nor computing
        cpu = record.cpu * part if record and record.cpu is not None else seconds * share
        return Unit(scope, nodeids, seconds, cpu)

    order = sorted((unit(s, n) for s, n in units.items()), key=lambda u: -u.seconds)
    total_seconds, total_cpu = sum(u.seconds for u in order), sum(u.cpu for u in order)
    if total_seconds <= 0 or total_cpu <= 0:
        return Plan(order, frozenset(), 0.0)
    waiting = [u for u in order if _waits(u, total_cpu / total_seconds)]
    return Plan(order, frozenset(u.scope for u in waiting), sum(u.seconds for u in waiting) / total_seconds)


# A unit waits when it uses less than this part of the average CPU per second. In the record the files of live
# agents, relays and real-time loops use 0.01-0.13 CPU-s a second and every other file 0.17 or more, against an
# average of 0.25: the computing files look slow too, sharing two cores among six workers (a CPU-bound file
# gets ~0.33), and a PostgreSQL test's server CPU is not its own. Below the average alone counted 64 % of the
# time as waiting, test_permissions and test_pipeline among it.
WAITING_PART = 0.6


def _waits(unit: Unit, share: float) -> bool:
    return unit.cpu < WAITING_PART * share * unit.seconds


def next_scope(queue: list[str], waiting: frozenset[str], in_flight: list[str], waiting_share: float) -> str:
    """The unit to give a worker that asks for more work, given the units the workers are running.

    The queue's first (longest) unit of the kind the workers are short of: a waiting one while fewer than
    `waiting_share` of the units in flight wait, else a computing one (the first of the queue where the other
    kind has run out). Chosen when a worker asks, not planned ahead in the queue's order: the run differs from
    the record (on a machine without Icecast or qemu whole files of waiting tests skip in a moment), and a
    queue interleaved from the record alone still left live tests on most workers at once in a fresh run."""
    waiting_now = sum(1 for scope in in_flight if scope in waiting)
    want_waiting = waiting_now < waiting_share * (len(in_flight) + 1)
    return next((scope for scope in queue if (scope in waiting) == want_waiting), queue[0])


def make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201  (xdist's Producer and scheduler)
    from xdist.scheduler import LoadFileScheduling

    class LongestFirstFiles(LoadFileScheduling):
        """xdist's `loadfile`, with the units and their order of `work_plan`, and `next_scope` choosing which
        queued unit a worker gets."""

        waiting: frozenset[str] = frozenset()
        waiting_share = 0.0  # until schedule() has the plan: the queue's own order

        def _split_scope(self, nodeid: str) -> str:
            path = file_of(nodeid)
            return nodeid if path in SPREAD else path

        def schedule(self) -> None:
            """xdist's LoadScopeScheduling.schedule, with the work queue in the order of `work_units`."""
            if self.collection is not None or not self._check_nodes_have_same_collection():
                return super().schedule()  # a re-schedule, or xdist reports the differing collections
            self.collection = list(next(iter(self.registered_collections.values())))
            if not self.collection:
                return
            plan = work_plan(self.collection, load_durations())
            self.waiting, self.waiting_share = plan.waiting, plan.waiting_share
            for unit in plan.order:
                self.workqueue[unit.scope] = dict.fromkeys(unit.nodeids, False)
            for _ in range(max(0, len(self.nodes) - len(self.workqueue))):
                unused, _work = self.assigned_work.popitem()
                unused.shutdown()
            for node in self.nodes:
                if self.workqueue:
                    self._assign_work_unit(node)
            for node in self.nodes:
                self._reschedule(node)
            if not self.workqueue:
                for node in self.nodes:
                    node.shutdown()

        def _assign_work_unit(self, node: Any) -> None:  # node: xdist's WorkerController
            """xdist's LoadScopeScheduling._assign_work_unit, with the unit `next_scope` picks, not the first."""
            # what each worker runs now: its first unfinished unit (a worker is also sent the next one or two
            # before it finishes, ~3 tests ahead; counted too, those made five of six workers run live tests)
            running = [next((scope for scope, tests in work.items() if not all(tests.values())), None)
                       for work in self.assigned_work.values()]
            in_flight = [scope for scope in running if scope is not None]
            scope = next_scope(list(self.workqueue), self.waiting, in_flight, self.waiting_share)
            work_unit = self.workqueue.pop(scope)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            collection = self.registered_collections[node]
            node.send_runtest_some([collection.index(nodeid) for nodeid, done in work_unit.items() if not done])

    return LongestFirstFiles(config, log)


def format_record(records: Mapping[str, Record]) -> str:
    """durations.json's text: one file per line, so that a refresh reads as a diff of the files that changed."""
    lines = [f"{json.dumps(k)}: {json.dumps(list(r))}" for k, r in sorted(records.items())]
    return "{\n" + ",\n".join(lines) + "\n}\n"


CPU_PROPERTY = "loa_cpu_seconds"


def _cpu_seconds() -> float:
    """CPU used so far by this process and the children it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """With LOA_TEST_DURATIONS_WRITE=1, where the tests run (each worker): the CPU of each phase of a test, put
    in its report for the recorder in the controller (xdist sends a report's user_properties along)."""

    def __init__(self) -> None:
        self.mark = _cpu_seconds()

    def pytest_runtest_logstart(self) -> None:
        self.mark = _cpu_seconds()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, Any, None]:
        outcome = yield
        now = _cpu_seconds()
        report = outcome.get_result()
        # a new list: the report's is the item's own, which every later phase's report starts from again
        report.user_properties = [*report.user_properties, (CPU_PROPERTY, now - self.mark)]
        self.mark = now


class DurationRecorder:
    """With LOA_TEST_DURATIONS_WRITE=1: sum each file's setup, call and teardown times, and their CPU (CpuMeter),
    into durations.json."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DURATIONS
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration
        self.cpu[file_of(report.nodeid)] += sum(
            float(v) for k, v in report.user_properties if k == CPU_PROPERTY and isinstance(v, (int, float)))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds or hasattr(session.config, "workerinput"):
            return
        fresh = {k: Record(round(v, 1), round(self.cpu[k], 1)) for k, v in self.seconds.items()}
        merged = {**load_durations(self.path), **fresh}
        self.path.write_text(format_record(merged))


def recording() -> bool:
    return os.environ.get(WRITE_ENV, "").strip() not in ("", "0")
