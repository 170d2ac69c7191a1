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
        config.pluginmanager.register(scheduling.CpuMeter(), "loa-cpu-meter")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return scheduling.auto_workers(os.cpu_count() or 1)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    if config.getvalue("dist") == "loadfile":
        return scheduling.make_scheduler(config, log)
    return None
