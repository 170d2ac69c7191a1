"""Schemathesis against the OpenAPI document: generated requests on every operation, no 5xx, every error is
problem+json. Bounded: a few examples per operation (about a minute per database)."""
from __future__ import annotations

import pytest

EXAMPLES = 20


def test_openapi_declares_errors_and_models_on_every_route(app):
    spec = app.openapi()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert any(c.startswith("2") for c in codes), (method, path)
            if path not in ("/api/v1/health", "/api/v1/languages", "/api/interchange/v1/identity"):
                assert "422" in codes or "401" in codes, (method, path, codes)
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")) and code != "422":
                    assert "application/problem+json" in resp["content"], (method, path, code)


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(app, client, world):
    # imported here, not at collection: every xdist worker collects this file, one runs it (~1 CPU-s each)
    import schemathesis
    from hypothesis import HealthCheck, given, settings as hsettings

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = world.h("cadre")
    failures = []
    statuses: dict[int, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:
        @given(case=operation.as_strategy())
        @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(headers={**(case.headers or {}), **headers})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append((operation.label, response.status_code, response.text[:300]))  # noqa: B023 (run() is called below, in this iteration)
            elif response.status_code >= 400:
                assert str(response.headers.get("content-type", "")).find("application/problem+json") >= 0, (
                    operation.label, response.status_code, response.text[:200])  # noqa: B023

        run()
    assert failures == []
    assert sum(statuses.values()) >= 5 * len(operations)  # it really ran
    assert any(200 <= code < 300 for code in statuses)  # and got past validation somewhere
