"""tests/hooks/fastapi_routes.py memoizes two FastAPI internals for the suite's speed: it must engage on the
pinned FastAPI (or this fails the day FastAPI changes shape), and an app built with it must be the same app as
one built without it: the same routes, the same OpenAPI document, the same answers."""
from __future__ import annotations

import json

from tests.hooks import fastapi_routes

PATHS = ["/api/v1/areas", "/api/v1/communes/1/items", "/login", "/api/device/v1/manifest", "/api/v1/devices/1",
         "/", "/api/v1/setup", "/api/v1/communes/x/items"]


def _app_answers(settings_factory):  # noqa: ANN001, ANN202
    from starlette.testclient import TestClient

    from api.app import create_app

    app = create_app(settings_factory())
    with TestClient(app) as client:
        answers = [(p, (r := client.get(p)).status_code, r.headers.get("content-type"), r.content) for p in PATHS]
        bad = client.post("/api/v1/auth/login", json={"username": 5})  # a body the model refuses: its 422
        answers.append(("login", bad.status_code, bad.headers.get("content-type"), bad.content))
    doc = json.dumps(app.openapi(), sort_keys=True)
    routes = sorted((getattr(r, "path", ""), tuple(sorted(getattr(r, "methods", None) or ()))) for r in app.routes)
    return answers, doc, routes


def test_the_hook_engages_on_the_pinned_fastapi(tmp_path):
    import fastapi
    import fastapi.routing as routing

    assert fastapi_routes.install(), f"FastAPI {fastapi.__version__} no longer has the internals the hook memoizes"
    for name in ("_build_dependant_with_parameterless_dependencies", "create_model_field", "_get_body_field"):
        assert getattr(getattr(routing, name), "loa_memo", False), name
    from loa.settings import Settings

    n = iter(range(100))
    _app_answers(lambda: Settings(data_dir=tmp_path / f"a{next(n)}"))
    hits = fastapi_routes.stats["hits"]
    _app_answers(lambda: Settings(data_dir=tmp_path / f"a{next(n)}"))
    assert fastapi_routes.stats["hits"] > hits  # the second app reused the first one's analysis


def test_an_app_built_with_the_hook_is_the_same_app(tmp_path):
    from loa.settings import Settings

    n = iter(range(100))
    make = lambda: Settings(data_dir=tmp_path / f"b{next(n)}")  # noqa: E731
    fastapi_routes.install()
    _app_answers(make)  # fills the memo
    with_hook = _app_answers(make)
    fastapi_routes.uninstall()
    try:
        without = _app_answers(make)
    finally:
        fastapi_routes.install()
    assert with_hook[2] == without[2]
    assert with_hook[1] == without[1]
    assert [a[:3] for a in with_hook[0]] == [a[:3] for a in without[0]]
    assert with_hook[0][-1] == without[0][-1]  # the same validation error, word for word
