"""dev.py, the README's commands: `test` runs on every core unless told otherwise; `agent-wheel` is listed."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dev():
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_test_command_is_parallel_and_the_callers_arguments_win():
    dev = _dev()
    assert dev.pytest_args([]) == ["-n", "auto", "--dist", "loadfile"]
    # the caller's `-n 0` comes last, and pytest takes the last value: one process
    assert dev.pytest_args(["-n", "0", "-k", "normalizer"])[-4:] == ["-n", "0", "-k", "normalizer"]
    assert dev.pytest_args(["-p", "no:xdist"]) == ["-p", "no:xdist"]  # no -n for a pytest without xdist


def test_only_a_parallel_run_is_warmed_up():
    dev = _dev()
    assert dev._runs_in_parallel([]) and dev._runs_in_parallel(["-n", "4"]) and dev._runs_in_parallel(["-n4"])
    assert not dev._runs_in_parallel(["-n", "0"]) and not dev._runs_in_parallel(["-n", "auto", "-n", "1"])
    assert not dev._runs_in_parallel(["-p", "no:xdist"]) and not dev._runs_in_parallel(["-n0"])
    assert not dev._runs_in_parallel(["--numprocesses=0"]) and dev._runs_in_parallel(["--numprocesses=3"])
    # a run of named tests collects only those: nothing to warm
    assert dev._names_tests(["tests/test_dev_py.py::test_usage_lists_the_commands", "-q"])
    assert dev._names_tests(["tests/content"]) and not dev._names_tests(["-k", "normalizer"])


def test_cold_test_modules_are_those_pytest_has_not_rewritten(tmp_path):
    import os
    import time

    dev = _dev()
    (tmp_path / "sub").mkdir()
    for name in ("test_a.py", "sub/test_b.py", "sub/helper.py"):
        (tmp_path / name).write_text("def test_x():\n    assert 1\n")
    assert dev.cold_test_modules(tmp_path) == [tmp_path / "sub" / "test_b.py", tmp_path / "test_a.py"]
    # pytest itself writes the cache: a real run in that folder
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
                          "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert dev.cold_test_modules(tmp_path) == []
    later = time.time() + 5  # edited after it was rewritten: cold again
    os.utime(tmp_path / "test_a.py", (later, later))
    assert dev.cold_test_modules(tmp_path) == [tmp_path / "test_a.py"]


def test_usage_lists_the_commands():
    out = subprocess.run([sys.executable, str(ROOT / "dev.py")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "dev.py test" in out.stdout and "dev.py agent-wheel" in out.stdout and "-n 0" in out.stdout


# A stand-in for `loa demo`: stops on SIGINT like the station does, saying so; or ignores it. The handler only
# notes the stop and the loop says it: printing from the handler itself failed when the signal came while the
# child was still inside print("ready") (the test reads the line as soon as it is written, and a second print
# into the same buffer is "reentrant call inside BufferedWriter").
_CHILD = """
import signal, sys, time
stop = []
if sys.argv[1] == "stops":
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
else:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ready", flush=True)
while not stop:
    time.sleep(0.05)
print("stopped cleanly", flush=True)
sys.exit(130)
"""
_PARENT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("dev", sys.argv[1])
dev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dev)
sys.exit(dev.run_to_end([sys.executable, "-c", sys.argv[2], sys.argv[3]]))
"""


def _ctrl_c_default() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _started(behaviour: str) -> subprocess.Popen:
    import select

    # its own process group, as a terminal gives `python3 dev.py run`; and Ctrl+C as at a terminal: a suite
    # started as a background job (`python3 dev.py test &`, nohup) has SIGINT ignored, which a child inherits,
    # and dev.py then never saw the SIGINTs these tests send (both failed after 30 s)
    proc = subprocess.Popen([sys.executable, "-c", _PARENT, str(ROOT / "dev.py"), _CHILD, behaviour],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_ctrl_c_default)
    assert select.select([proc.stdout], [], [], 30)[0], "the command never started"
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_ctrl_c_stops_the_command_and_prints_no_traceback():
    import os
    import signal

    proc = _started("stops")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in the terminal does: the whole group gets it
    out, err = proc.communicate(timeout=30)
    assert "stopped cleanly" in out, (proc.returncode, out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert proc.returncode == 130  # the command's own exit code


def test_a_sigint_to_dev_py_alone_is_passed_on_so_nothing_is_left_running():
    import os
    import signal

    proc = _started("stops")
    os.kill(proc.pid, signal.SIGINT)  # only dev.py: the station must not be left playing on its own
    out, err = proc.communicate(timeout=30)
    assert "stopped cleanly" in out and "Traceback" not in err, err
    assert proc.returncode == 130


def test_a_command_that_ignores_ctrl_c_is_terminated_by_the_second():
    import os
    import signal
    import time

    proc = _started("ignores")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(3)  # past the 2 s in which the command may stop by itself; dev.py passed it on; still ignored
    assert proc.poll() is None
    os.kill(proc.pid, signal.SIGINT)  # the second press
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
