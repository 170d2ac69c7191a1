"""Schemathesis against the OpenAPI document: generated requests on every operation, no 5xx, every error is
problem+json. Bounded: a few examples per operation, drawn once and sent to each database."""
from __future__ import annotations

import json
from typing import Any

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


# The loaded schema, its operations and their strategies, per OpenAPI document (its JSON text), for the process:
# the SQLite and the PostgreSQL app serve the same document, so it is parsed, resolved and turned into strategies
# once (with schemathesis's per-schema caches, such as the constants it extracts from the app's modules), not once
# per test. A different document (another app) gets its own entry, so nothing stale is ever generated from.
_LOADED: dict[str, tuple[Any, list[tuple[Any, Any]]]] = {}
# The requests generated for each operation of a document, in order: the first database's run draws them with
# Hypothesis, the other database's run sends the very same ones (drawing is about 60 % of this test's CPU, and
# both runs draw from the same strategies with the same fixed seed anyway; only constants Hypothesis harvests
# from whatever modules happen to be imported made ~0.4 % of them differ). Keyed like _LOADED.
_DRAWN: dict[tuple[str, str], list[Any]] = {}
_CASE_DATA = ("path_parameters", "headers", "cookies", "query", "body")


def _kept(case):  # noqa: ANN001, ANN202 (a schemathesis Case)
    """A copy of `case` to send again later: its request data copied, so nothing sending it changes them."""
    import copy

    from schemathesis.generation.case import Case

    data = {name: copy.deepcopy(getattr(case, name)) for name in _CASE_DATA}
    return Case(case.operation, case.method, case.path, id=case.id, media_type=case.media_type,
                multipart_content_types=case.multipart_content_types, meta=case._meta, _auth=case._auth,
                _has_explicit_auth=case._has_explicit_auth, **data)


def _document_of(app) -> str:  # noqa: ANN001 (a FastAPI app)
    return json.dumps(app.openapi(), sort_keys=True)  # app.openapi() is what /openapi.json serves (cached)


def _operations_of(app) -> list[tuple[Any, Any]]:  # noqa: ANN001 (a FastAPI app)
    import schemathesis

    document = _document_of(app)
    if document not in _LOADED:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        _LOADED[document] = (schema, [(operation, operation.as_strategy()) for operation in operations])
    schema, operations = _LOADED[document]
    schema.app = app  # this test's app answers (case.call also names it)
    return operations


def _fresh_token(app, world, role: str) -> dict[str, str]:  # noqa: ANN001 (a FastAPI app, a station_rig World)
    """A new bearer token of `role` for one operation. Among the generated requests are POST /api/v1/auth/logout
    and DELETE /api/v1/auth/tokens/{id}, which end the token they are sent with: with one token for the whole
    run, every operation after the logout stopped at 401 (about 2,430 of 2,540 requests) and was never fuzzed."""
    from datetime import timedelta

    from loa.accounts import auth
    from loa.accounts.models import User
    from loa.db import session_scope

    with session_scope(app.state.engine) as s:
        _, secret = auth.issue_token(s, s.get(User, world.users[role]), auth.BEARER, app.state.clock(),
                                     timedelta(days=30), "fuzz")
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(app, client, world):
    # imported here, not at collection: every xdist worker collects this file, one runs it (~1 CPU-s each)
    from hypothesis import HealthCheck, given, settings as hsettings
    from schemathesis.python import asgi

    failures = []
    statuses: dict[int, int] = {}
    operations = _operations_of(app)
    assert len(operations) >= 30
    document = _document_of(app)

    for operation, strategy in operations:
        headers = _fresh_token(app, world, "cadre")
        # One in-process client per operation instead of a new one per request (as case.call makes without it):
        # its cookies are cleared before every request, so each starts as from a fresh client. trust_env off: the
        # request never leaves the process, so proxy and .netrc settings from the environment have no business
        # in it (and looking them up was a few per cent of this test's CPU).
        max_events = operation.schema.config.max_stream_events_for(operation=operation)
        with asgi.get_client(app, max_stream_events=max_events) as session:
            session.trust_env = False

            def send(case):  # noqa: ANN001, ANN202 (a schemathesis Case)
                session.cookies.clear()  # noqa: B023 (send() is called below, in this iteration)
                response = case.call(session=session, app=app,  # noqa: B023
                                     headers={**(case.headers or {}), **headers})  # noqa: B023
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append((operation.label, response.status_code, response.text[:300]))  # noqa: B023
                elif response.status_code >= 400:
                    assert str(response.headers.get("content-type", "")).find("application/problem+json") >= 0, (
                        operation.label, response.status_code, response.text[:200])  # noqa: B023

            key = (document, operation.label)
            if key in _DRAWN:
                for case in _DRAWN[key]:
                    send(case)
                continue
            drawn: list[Any] = []

            @given(case=strategy)
            @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                       suppress_health_check=list(HealthCheck))
            def run(case):  # noqa: ANN001, ANN202
                drawn.append(_kept(case))  # noqa: B023
                send(case)  # noqa: B023

            run()
            _DRAWN[key] = drawn  # only once every one of them passed: a failing run shrinks, and fails anyway
    assert failures == []
    assert sum(statuses.values()) >= 5 * len(operations)  # it really ran
    assert any(200 <= code < 300 for code in statuses)  # and got past validation somewhere
