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


def test_waiting_and_computing_units_are_mixed_through_the_queue():
    # Ten live files (10 s waiting, 0.5 CPU-s each) and ten computing ones (10 s, 8 CPU-s): longest first alone
    # kept the order they came in, all the live ones in a row.
    live = [_unit(f"live{i}", 10.0 + i * 0.01, 0.5) for i in range(10)]
    busy = [_unit(f"busy{i}", 10.0 - i * 0.01, 8.0) for i in range(10)]
    order = [u.scope for u in scheduling.interleave(live + busy)]
    assert sorted(order) == sorted(u.scope for u in live + busy)  # every unit, once
    kinds = "".join(s[0] for s in order)
    assert "lll" not in kinds and "bbb" not in kinds, order  # never three of a kind in a row
    # each group still goes longest first
    assert [s for s in order if s.startswith("live")] == [f"live{i}" for i in reversed(range(10))]
    assert [s for s in order if s.startswith("busy")] == [f"busy{i}" for i in range(10)]


def test_in_every_stretch_of_the_queue_the_cpu_is_near_its_share():
    units = ([_unit(f"live{i}", 8.0 + i % 5, 0.6) for i in range(40)]
             + [_unit(f"busy{i}", 1.0 + i % 30, 0.6 * (1.0 + i % 30)) for i in range(120)]
             + [_unit("fuzz", 110.0, 40.0), _unit("walk", 60.0, 28.0)])
    order = scheduling.interleave(units)
    assert order[0].scope == "fuzz"  # the longest unit still starts first
    share = sum(u.cpu for u in units) / sum(u.seconds for u in units)
    seconds = cpu = 0.0
    for u in order:
        seconds, cpu = seconds + u.seconds, cpu + u.cpu
        assert abs(cpu - share * seconds) <= 45.0, (u.scope, seconds, cpu)  # never more than one long unit off


def test_without_cpu_figures_the_order_is_longest_first():
    units = [_unit("a", 1.0, 0.0), _unit("b", 3.0, 0.0), _unit("c", 2.0, 0.0)]
    assert [u.scope for u in scheduling.interleave(units)] == ["b", "c", "a"]


def test_a_file_without_a_cpu_figure_counts_as_the_average():
    collection = ["tests/live.py::t", "tests/busy.py::t", "tests/old.py::t"]
    record = {"tests/live.py": (10.0, 1.0), "tests/busy.py": (8.0, 9.0), "tests/old.py": 12.0}
    # old.py counts as the average (10 CPU-s in 18 s): the longest, it goes first and leaves CPU and time even;
    # then the longer of the two others
    assert [scope for scope, _ in scheduling.work_units(collection, record)] == [
        "tests/old.py", "tests/live.py", "tests/busy.py"]


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
    assert [u.scope for u in plan.order][:2] == ["tests/a/test_x.py", f"{LIVE}::t0"]


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
