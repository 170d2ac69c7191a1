"""Suite-wide rules (hooks only; the helpers live in tests/tools.py):

1. Tests marked `postgres` or `mqtt` need that server running; `browser` needs Debian's Chromium. When one is
   missing the test skips with how to get it; with LOA_TEST_STRICT=1 (CI) it fails instead.
2. With LOA_TEST_STRICT=1 every other skip is a failure too: CI never skips silently.

Parallel runs (`python3 dev.py test` = pytest-xdist `-n auto --dist loadfile`; tests/scheduling.py sets the
number of workers `auto` means and hands out the files longest first): each worker has its own PostgreSQL
database (tests/station_rig.py names it with a random suffix), its own temp dirs, and free ports; a test
file stays on one worker (but for the few in scheduling.SPREAD), so module-scoped fixtures (a browser, a
server process) are built once. Tests on the shared Mosquitto at 127.0.0.1:1883 subscribe only to topics no
other test uses (a fresh device id, or a random commune in tests/broadcaster/test_nudges.py), so workers can
publish side by side.
"""
from __future__ import annotations

import gc
import os

import pytest

from tests import scheduling, tools
from tests.hooks import fastapi_routes, httpx_tls, testclient_whole

# The test databases (`pg_url`, `sqlite_template`): one definition for the whole run, so one of each per process.
pytest_plugins = ("tests.databases",)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for key in tools.SERVICES:
        if item.get_closest_marker(key) is not None:
            tools.require_service(key)
    if item.get_closest_marker("browser") is not None:
        tools.chromium()


def _strict_failure(report) -> None:  # noqa: ANN001  (a TestReport or a CollectReport)
    if not (tools.strict() and report.skipped and not hasattr(report, "wasxfail")):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{tools.STRICT_ENV}=1 (CI): a skip is a failure here. Skipped because: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):  # noqa: ANN001, ANN201
    outcome = yield
    _strict_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # noqa: ANN001, ANN201
    outcome = yield
    _strict_failure(outcome.get_result())


def pytest_configure(config: pytest.Config) -> None:
    fastapi_routes.install()  # every test's app shares FastAPI's per-route analysis (tests/hooks/fastapi_routes.py)
    httpx_tls.install()  # the suite's httpx clients share one verifying TLS context (tests/hooks/httpx_tls.py)
    if not os.environ.get("LOA_TEST_STARLETTE_STREAMED"):  # set only to measure the hook against Starlette's path
        testclient_whole.install()  # a TestClient request read whole is one hop (tests/hooks/testclient_whole.py)
    if scheduling.recording():
        config.pluginmanager.register(scheduling.DurationRecorder(), "loa-durations")


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collector, tuned for a test process: what collection built (every test module, the station's modules,
    ~2,000 items) lives to the end, so it leaves the generations the collector scans (as the station does at
    start-up, api/app.py), and the youngest generation is collected after 10,000 new objects instead of 700.
    Each test makes and drops a whole app, a database engine and clients: at 700 a worker ran ~30 collections a
    test. Measured on 348 tests of tests/api and tests/schedules in one process: 10,394 collections, 2.2 s, to
    770 and 1.0 s; the process's CPU 54.6 to 51.7 s. What a test checks is unchanged: objects without cycles
    are freed at once as before, and a test that needs a collection calls gc.collect()."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return scheduling.auto_workers(os.cpu_count() or 1)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    if config.getvalue("dist") == "loadfile":
        return scheduling.make_scheduler(config, log)
    return None
