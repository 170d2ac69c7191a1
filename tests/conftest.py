"""Suite-wide rules (hooks only; the helpers live in tests/tools.py):

1. Tests marked `postgres` or `mqtt` need that server running; `browser` needs Debian's Chromium. When one is
   missing the test skips with how to get it; with LOA_TEST_STRICT=1 (CI) it fails instead.
2. With LOA_TEST_STRICT=1 every other skip is a failure too: CI never skips silently.
3. Under pytest-xdist with `--dist loadgroup` (what `python3 dev.py test` runs), tests that share the
   Mosquitto at 127.0.0.1:1883 run on one worker (their station publishes retained nudges on topics such as
   `loa/c1/village/v1/sync`, and every worker's fresh database numbers its commune 1), and a module with
   module-scoped fixtures (a browser, a server process) stays on one worker so they are built once.
"""
from __future__ import annotations

import pytest

from tests import tools

SHARED_BROKER_GROUP = "mosquitto-127.0.0.1-1883"


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


def _group(item: pytest.Item) -> str | None:
    if item.get_closest_marker("mqtt") is not None:
        return SHARED_BROKER_GROUP
    fixtures = getattr(item, "_fixtureinfo", None)
    defs = fixtures.name2fixturedefs.values() if fixtures is not None else []
    if any(d[-1].scope in ("module", "class", "package") for d in defs if d):
        return item.nodeid.split("::", 1)[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        group = _group(item)
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
