"""The order in which tests/scheduling.py hands test files to the xdist workers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import scheduling

ROOT = Path(__file__).resolve().parents[1]

LIVE = "tests/broadcaster/station/test_control_live.py"


def test_files_stay_whole_and_go_longest_first():
    collection = ["tests/a/test_many.py::t1", "tests/a/test_many.py::t2", "tests/a/test_many.py::t3",
                  "tests/b/test_slow.py::t1", "tests/c/test_new.py::t1", "tests/d/test_quick.py::t1"]
    recorded = {"tests/a/test_many.py": 3.0, "tests/b/test_slow.py": 40.0, "tests/d/test_quick.py": 0.5}
    units = scheduling.work_units(collection, recorded)  # the new file: the median test, 1 s
    assert [scope for scope, _ in units] == ["tests/b/test_slow.py", "tests/a/test_many.py", "tests/c/test_new.py",
                                             "tests/d/test_quick.py"]
    assert units[1][1] == ["tests/a/test_many.py::t1", "tests/a/test_many.py::t2", "tests/a/test_many.py::t3"]


def test_unrecorded_files_count_as_their_tests_times_the_median_test():
    collection = [f"tests/a/test_new.py::t{i}" for i in range(30)] + ["tests/b/test_known.py::t1"]
    units = scheduling.work_units(collection, {"tests/b/test_known.py": 2.0})  # 2 s per test: the new file 60 s
    assert units[0][0] == "tests/a/test_new.py"


def test_spread_files_are_cut_into_single_tests_with_their_share_of_the_time():
    assert LIVE in scheduling.SPREAD
    collection = [f"{LIVE}::t{i}" for i in range(4)] + ["tests/a/test_x.py::t1"]
    units = scheduling.work_units(collection, {LIVE: 100.0, "tests/a/test_x.py": 10.0})
    assert [scope for scope, _ in units[:4]] == [f"{LIVE}::t{i}" for i in range(4)]  # 25 s each
    assert units[4] == ("tests/a/test_x.py", ["tests/a/test_x.py::t1"])


def test_the_record_is_read_back_and_a_broken_one_is_ignored(tmp_path):
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"tests/a/test_x.py": [1.5, 0.4], "tests/b/test_old.py": 2.0}))
    assert scheduling.load_durations(path) == {"tests/a/test_x.py": (1.5, 0.4), "tests/b/test_old.py": (2.0, None)}
    for broken in ("{not json", json.dumps({"tests/a/test_x.py": [1.5, 0.4, 9]}), json.dumps({"t.py": "x"})):
        path.write_text(broken)
        assert scheduling.load_durations(path) == {}, broken
    assert scheduling.load_durations(tmp_path / "missing.json") == {}


def _unit(name: str, seconds: float, cpu: float) -> scheduling.Unit:
    return scheduling.Unit(name, [f"{name}::t"], seconds, cpu)


def _most_live_at_once(plan: scheduling.Plan, pick, workers: int = 6) -> int:  # noqa: ANN001 (a chooser)
    """Workers taking units from the plan's queue (each unit lasting its seconds), choosing with `pick`: the
    largest number of waiting units run at one time."""
    queue = [u.scope for u in plan.order]
    length = {u.scope: u.seconds for u in plan.order}
    running: dict[int, tuple[float, str]] = {}  # worker -> (ends at, unit)
    now, most = 0.0, 0
    free = list(range(workers))
    while queue or running:
        for worker in free:
            if queue:
                scope = pick(queue, [unit for _, unit in running.values()])
                queue.remove(scope)
                running[worker] = (now + length[scope], scope)
        most = max(most, sum(1 for _, unit in running.values() if unit in plan.waiting))
        now = min(end for end, _ in running.values())
        free = [w for w, (end, _) in running.items() if end == now]
        for w in free:
            del running[w]
    return most


def test_workers_taking_the_kind_they_are_short_of_never_all_wait_at_once():
    # 40 live tests (8 s of real time, ~1 CPU-s each), 80 computing files of 1-40 s, one 110 s file
    collection = ([f"{LIVE}::t{i}" for i in range(40)] + [f"tests/c/test_{i}.py::t" for i in range(80)]
                  + ["tests/api/test_fuzz.py::t"])
    record: dict[str, tuple[float, float]] = {LIVE: (320.0, 40.0), "tests/api/test_fuzz.py": (110.0, 40.0)}
    record.update({f"tests/c/test_{i}.py": (1.0 + i % 40, 0.4 * (1.0 + i % 40)) for i in range(80)})
    plan = scheduling.work_plan(collection, record)
    assert plan.waiting == frozenset(f"{LIVE}::t{i}" for i in range(40))
    assert plan.order[0].scope == "tests/api/test_fuzz.py"  # the longest unit still starts first
    mixed = _most_live_at_once(plan, lambda queue, running: scheduling.next_scope(
        queue, plan.waiting, running, plan.waiting_share))
    longest_first = _most_live_at_once(plan, lambda queue, running: queue[0])
    assert longest_first == 6  # the queue's order alone: every worker on a live test at some time
    assert plan.waiting_share == pytest.approx(320.0 / 2070.0)  # 15 % of the time waits ...
    assert mixed <= 2, mixed  # ... so one or two of six workers at a time, never all


def test_a_file_without_a_cpu_figure_counts_as_the_average():
    collection = ["tests/live.py::t", "tests/busy.py::t", "tests/old.py::t"]
    record = {"tests/live.py": (10.0, 1.0), "tests/busy.py": (8.0, 9.0), "tests/old.py": 12.0}
    # old.py is counted at the average (10 CPU-s in 18 s), so it does not wait; live.py does
    plan = scheduling.work_plan(collection, record)
    assert [u.scope for u in plan.order] == ["tests/old.py", "tests/live.py", "tests/busy.py"]  # longest first
    assert plan.order[0].cpu == 12.0 * 10.0 / 18.0
    assert plan.waiting == frozenset({"tests/live.py"})


def test_a_worker_gets_the_kind_of_unit_the_workers_are_short_of():
    queue = ["busy1", "live1", "busy2", "live2"]
    waiting = frozenset({"live0", "live1", "live2", "live8", "live9"})
    # half the time is waiting: with one waiting unit among four in flight the next is a waiting one ...
    assert scheduling.next_scope(queue, waiting, ["live0", "busy7", "busy8", "busy9"], 0.5) == "live1"
    # ... with two of four, not (2 < 0.5 * 5 is true: three of five may wait) ...
    assert scheduling.next_scope(queue, waiting, ["live0", "live9", "busy8", "busy9"], 0.5) == "live1"
    assert scheduling.next_scope(queue, waiting, ["live0", "live9", "live8", "busy9"], 0.5) == "busy1"
    # ... and where the kind wanted has run out, the queue's first
    assert scheduling.next_scope(["busy1", "busy2"], waiting, [], 0.5) == "busy1"
    assert scheduling.next_scope(["live1"], waiting, ["live0", "live9", "live8"], 0.5) == "live1"
    # without a record of CPU nothing waits: the queue's own order
    assert scheduling.next_scope(queue, frozenset(), ["live0"], 0.0) == "busy1"


def test_the_plan_names_the_waiting_units_and_their_part_of_the_time():
    collection = [f"{LIVE}::t{i}" for i in range(4)] + ["tests/a/test_x.py::t1", "tests/b/test_y.py::t1"]
    plan = scheduling.work_plan(collection, {LIVE: (40.0, 2.0), "tests/a/test_x.py": (30.0, 20.0),
                                             "tests/b/test_y.py": (30.0, 12.0)})
    assert plan.waiting == frozenset(f"{LIVE}::t{i}" for i in range(4))  # 0.05 CPU-s a second, the average 0.34
    assert plan.waiting_share == 0.4
    assert [u.scope for u in plan.order][:3] == ["tests/a/test_x.py", "tests/b/test_y.py", f"{LIVE}::t0"]


_RECORDED_SUITE = {
    "conftest.py": """
import os
from pathlib import Path
from tests import scheduling

def pytest_configure(config):
    config.pluginmanager.register(scheduling.DurationRecorder(Path(os.environ["RECORD"])), "rec")
    config.pluginmanager.register(scheduling.CpuMeter(), "cpu")
""",
    "test_busy.py": """
import subprocess, sys, time

def test_computes():
    end = time.process_time() + 0.6
    while time.process_time() < end:
        pass

""",
    "test_child.py": """
import subprocess, sys

def test_a_child_computes():  # a child's CPU counts once the test has waited for it
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(10_000_000))"], check=True)
""",
    "test_waits.py": """
import time

def test_waits():
    time.sleep(0.8)
""",
}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_recorder_writes_each_files_seconds_and_cpu(tmp_path, workers):
    for name, text in _RECORDED_SUITE.items():
        (tmp_path / name).write_text(text)
    record = tmp_path / "durations.json"
    record.write_text(json.dumps({"test_gone.py": 3.0}))  # an older entry, kept
    env = {**os.environ, "RECORD": str(record),
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    for outer in (scheduling.WRITE_ENV, "PYTEST_ADDOPTS"):  # the outer run's own, not this inner run's
        env.pop(outer, None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "-n", workers, str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    written = scheduling.load_durations(record)
    busy, child, waits = written["test_busy.py"], written["test_child.py"], written["test_waits.py"]
    assert busy.cpu is not None and 0.6 <= busy.cpu <= busy.seconds + 0.1, busy
    assert child.cpu is not None and 0.2 <= child.cpu, child
    assert waits.seconds >= 0.8 and waits.cpu is not None and waits.cpu < 0.3, waits
    assert written["test_gone.py"] == (3.0, None)


def test_auto_means_three_workers_per_core_at_least_four_at_most_twelve():
    assert [scheduling.auto_workers(n) for n in (1, 2, 4, 8)] == [4, 6, 12, 12]
