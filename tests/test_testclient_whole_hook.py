"""tests/hooks/testclient_whole.py: a TestClient request read whole is one hop to the app's loop, and the test
sees exactly what Starlette's own streamed path gives."""
from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.hooks import testclient_whole


def test_the_hook_is_installed_on_the_starlette_it_was_checked_with():
    import starlette

    assert starlette.__version__.startswith(testclient_whole.TESTED_STARLETTE), (
        f"Starlette {starlette.__version__}: check tests/hooks/testclient_whole.py against its TestClient "
        f"(the scope it builds, the messages it handles) and update TESTED_STARLETTE")
    assert testclient_whole.engaged()


async def _lifespan(receive, send) -> None:
    """A bare ASGI app's side of the lifespan a `with TestClient(...)` runs."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


def _streamed(client: TestClient, method: str, url: str, **kwargs):
    """Starlette's own path: a streamed request, read to the end."""
    with client.stream(method, url, **kwargs) as response:
        response.read()
        return response


def test_the_app_gets_the_same_scope_either_way():
    seen: list[dict] = []

    async def probe(scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        message = await receive()
        seen.append({**scope, "body": message["body"]})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"ok"})

    with TestClient(probe, base_url="http://station.test:8080", root_path="/loa", client=("10.0.0.7", 5000)) as c:
        before = dict(testclient_whole.stats)
        whole = c.post("/a%20b/c?x=1&y=%C3%A1", content=b"payload", headers={"X-Thing": "v"})
        assert testclient_whole.stats["whole"] == before["whole"] + 1
        streamed = _streamed(c, "POST", "/a%20b/c?x=1&y=%C3%A1", content=b"payload", headers={"X-Thing": "v"})
        assert testclient_whole.stats["streamed"] == before["streamed"] + 1
    assert seen[0] == seen[1]
    assert seen[0]["path"] == "/a b/c" and seen[0]["client"] == ("10.0.0.7", 5000) and seen[0]["body"] == b"payload"
    assert (whole.status_code, whole.headers.multi_items(), whole.content) == \
        (streamed.status_code, streamed.headers.multi_items(), streamed.content)


def test_the_stations_answers_are_the_same_either_way(tmp_path):
    from api.app import create_app
    from loa.db import make_engine, upgrade
    from loa.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/loa.db",
                        worker_enabled=False, print_setup_token=False)
    upgrade(make_engine(settings.db_url))
    with TestClient(create_app(settings)) as client:
        _same_answers(client)


def _same_answers(client: TestClient) -> None:
    cases = [("GET", "/login", {}), ("GET", "/no-such-page", {"headers": {"Accept": "text/html"}}),
             ("GET", "/api/v1/no-such", {}), ("HEAD", "/login", {}), ("GET", "/app", {"follow_redirects": False}),
             ("POST", "/login", {"data": {"username": "x", "password": "y", "next": "/app"}}),
             ("GET", "/api/v1/health", {})]
    for method, url, kwargs in cases:
        whole = client.request(method, url, **kwargs)
        streamed = _streamed(client, method, url, **kwargs)
        assert whole.status_code == streamed.status_code, url
        assert whole.content == streamed.content, url
        drop = {"date", "x-request-id", "server-timing", "set-cookie"}  # differ from one request to the next
        assert [h for h in whole.headers.multi_items() if h[0] not in drop] == \
            [h for h in streamed.headers.multi_items() if h[0] not in drop], url


def _app(raises: bool, responds: bool = True) -> Starlette:
    async def boom(request):
        if raises:
            raise RuntimeError("boom 42")
        return PlainTextResponse("fine") if responds else None

    return Starlette(routes=[Route("/", boom)])


def test_server_errors_as_starlette_gives_them():
    with TestClient(_app(raises=True)) as c:
        with pytest.raises(RuntimeError, match="boom 42"):
            c.get("/")
    with TestClient(_app(raises=True), raise_server_exceptions=False) as c:
        r = c.get("/")
        assert r.status_code == 500 and r.text == "Internal Server Error"

    async def silent(scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        await receive()

    with TestClient(silent) as c:
        with pytest.raises(AssertionError, match="did not receive any response"):
            c.get("/")
    with TestClient(silent, raise_server_exceptions=False) as c:
        r = c.get("/")
        assert r.status_code == 500 and r.content == b""


def test_background_tasks_are_done_when_the_call_returns_and_streams_still_stream():
    done: list[str] = []

    async def later():
        await asyncio.sleep(0.05)
        done.append("background")

    async def with_task(request):
        return PlainTextResponse("sent", background=BackgroundTask(later))

    async def endless(request):
        async def events():
            n = 0
            while True:
                n += 1
                yield f"data: {n}\n\n"
                await asyncio.sleep(0.01)
        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/task", with_task), Route("/events", endless)])
    with TestClient(app) as c:
        assert c.get("/task").text == "sent" and done == ["background"]
        with c.stream("GET", "/events") as r:  # an endless stream arrives chunk by chunk, as before
            lines = []
            for line in r.iter_lines():
                if line:
                    lines.append(line)
                if len(lines) == 3:
                    break
        assert lines == ["data: 1", "data: 2", "data: 3"]


def test_a_template_response_carries_its_template_and_context(tmp_path):
    from starlette.templating import Jinja2Templates

    (tmp_path / "page.html").write_text("Xin chào {{ name }}")
    templates = Jinja2Templates(directory=str(tmp_path))

    async def page(request):
        return templates.TemplateResponse(request, "page.html", {"name": "Ún Tà"})

    with TestClient(Starlette(routes=[Route("/", page)])) as c:
        r = c.get("/")
    assert r.text == "Xin chào Ún Tà"
    assert r.template.name == "page.html" and r.context["name"] == "Ún Tà"
