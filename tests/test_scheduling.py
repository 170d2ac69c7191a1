"""The order in which tests/scheduling.py hands test files to the xdist workers."""
from __future__ import annotations

import json

from tests import scheduling

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
    path.write_text(json.dumps({"tests/a/test_x.py": 1.5}))
    assert scheduling.load_durations(path) == {"tests/a/test_x.py": 1.5}
    path.write_text("{not json")
    assert scheduling.load_durations(path) == {}
    assert scheduling.load_durations(tmp_path / "missing.json") == {}


def test_auto_means_three_workers_per_core_at_least_four_at_most_twelve():
    assert [scheduling.auto_workers(n) for n in (1, 2, 4, 8)] == [4, 6, 12, 12]
