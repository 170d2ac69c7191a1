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

Refresh the record after adding slow tests: `LOA_TEST_DURATIONS_WRITE=1 python3 dev.py test` (it only orders
the work; a stale record costs time, never correctness)."""
from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

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


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def work_units(collection: list[str], durations: dict[str, float]) -> list[tuple[str, list[str]]]:
    """The collection cut into units (a whole file, or one test of a SPREAD file), longest first."""
    units: dict[str, list[str]] = {}
    for nodeid in collection:
        path = file_of(nodeid)
        units.setdefault(nodeid if path in SPREAD else path, []).append(nodeid)
    counts: dict[str, int] = defaultdict(int)
    for nodeid in collection:
        counts[file_of(nodeid)] += 1
    known = [durations[f] / n for f, n in counts.items() if f in durations and n]
    per_test = statistics.median(known) if known else 1.0

    def cost(unit: str, nodeids: list[str]) -> float:
        path = file_of(unit)
        if path in durations:
            return durations[path] * len(nodeids) / counts[path]
        return per_test * len(nodeids)

    return sorted(units.items(), key=lambda kv: -cost(*kv))


def make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201  (xdist's Producer and scheduler)
    from xdist.scheduler import LoadFileScheduling

    class LongestFirstFiles(LoadFileScheduling):
        """xdist's `loadfile`, with the units and their order of `work_units`."""

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
            for scope, nodeids in work_units(self.collection, load_durations()):
                self.workqueue[scope] = dict.fromkeys(nodeids, False)
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

    return LongestFirstFiles(config, log)


class DurationRecorder:
    """With LOA_TEST_DURATIONS_WRITE=1: sum each file's setup, call and teardown times into durations.json."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds or hasattr(session.config, "workerinput"):
            return
        merged = {**load_durations(), **{k: round(v, 1) for k, v in self.seconds.items()}}
        DURATIONS.write_text(json.dumps(dict(sorted(merged.items())), indent=0) + "\n")


def recording() -> bool:
    return os.environ.get(WRITE_ENV, "").strip() not in ("", "0")
