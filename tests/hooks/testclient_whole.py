"""Test-only: a TestClient request read whole runs the app in one hop to the client's event-loop thread.

Starlette's TestClient runs the app on an event loop in another thread (its "portal") and streams the response
back: for one `client.get(...)` it crosses between the two threads about eight times (two events, a memory
stream and a cancel scope are each made with a call into the loop, then the app is started, awaited, and its
body pulled chunk by chunk). Each crossing is a thread wake-up and a GIL hand-over: measured on this machine,
a request to a route that does almost nothing cost 3.1 ms of CPU through the TestClient against 0.8 ms through
httpx's ASGITransport on one loop. Most of the suite's ~1,800 tests make several requests each.

What this changes, for requests read whole only (`client.get/post/...`; `client.stream(...)` and WebSockets
keep Starlette's own path, so an endless event stream still arrives chunk by chunk): the app is run to the end
in one call into the loop, its messages collected, and the response built from them. What the test sees is
the same: the scope the app gets (built by the same code below, checked against Starlette's by
tests/test_testclient_whole_hook.py), the status, headers and body, the server exception raised when
`raise_server_exceptions` is on (and the empty 500 when it is off and nothing was sent), the template and
context Starlette's debug message carries, trailers, background tasks finished before the call returns, and the
`http.disconnect` the app sees once its response is out.

This leans on one private class of Starlette (`_TestClientTransport`): the hook engages only on the Starlette
minor it was checked with, and tests/test_testclient_whole_hook.py fails if it does not engage, so an upgrade
is noticed, not silently slower or different."""
from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote

TESTED_STARLETTE = "1.10."
stats = {"whole": 0, "streamed": 0}
_local = threading.local()


def engaged() -> bool:
    from starlette import testclient

    return bool(getattr(testclient._TestClientTransport.handle_request, "loa_whole", False))


def install() -> None:
    import starlette
    from starlette import testclient

    if not starlette.__version__.startswith(TESTED_STARLETTE) or engaged():
        return
    transport = testclient._TestClientTransport
    streamed_handle = transport.handle_request
    client_send = testclient.TestClient.send

    def send(self: Any, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        # httpx reads a response whole unless the caller asked for a stream: that is the only case sped up
        before = getattr(_local, "whole", False)
        _local.whole = not stream
        try:
            return client_send(self, request, stream=stream, **kwargs)
        finally:
            _local.whole = before

    def handle_request(self: Any, request: Any) -> Any:
        if not getattr(_local, "whole", False) or request.url.scheme not in ("http", "https"):
            stats["streamed"] += 1
            return streamed_handle(self, request)
        stats["whole"] += 1
        return _whole(self, request)

    send.loa_whole = True  # type: ignore[attr-defined]
    handle_request.loa_whole = True  # type: ignore[attr-defined]
    testclient.TestClient.send = send  # type: ignore[method-assign]
    transport.handle_request = handle_request  # type: ignore[method-assign]


def http_scope(transport: Any, request: Any) -> dict[str, Any]:
    """The HTTP scope exactly as Starlette 1.10's _TestClientTransport.handle_request builds it."""
    host = request.url.raw_host.decode(encoding="ascii")
    port = request.url.port
    if port is None:
        port = {"http": 80, "https": 443}[request.url.scheme]
    headers: list[tuple[bytes, bytes]] = [] if "host" in request.headers else [(b"host", request.url.netloc)]
    headers += [(key.lower().encode(), value.encode()) for key, value in request.headers.multi_items()]
    return {
        "type": "http",
        "http_version": "1.1",
        "method": request.method,
        "path": unquote(request.url.path),
        "raw_path": request.url.raw_path.split(b"?", 1)[0],
        "root_path": transport.root_path,
        "scheme": request.url.scheme,
        "query_string": request.url.query.decode(encoding="ascii").encode(),
        "headers": headers,
        "client": transport.client,
        "server": [host, port],
        "extensions": {"http.response.debug": {}, "http.response.trailers": {}},
        "state": transport.app_state.copy(),
    }


class _Collected:
    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.body_complete = False
        self.trailers_expected = False
        self.trailers: list[tuple[bytes, bytes]] = []
        self.debug: dict[str, Any] | None = None
        self.error: Exception | None = None


async def _run_whole(app: Any, scope: dict[str, Any], body: bytes) -> _Collected:
    import anyio

    out = _Collected()
    complete = anyio.Event()
    request_read = False

    async def receive() -> dict[str, Any]:
        nonlocal request_read
        if request_read:  # as Starlette's: a disconnect once the response is out (a streaming reply listens)
            await complete.wait()
            return {"type": "http.disconnect"}
        request_read = True
        return {"type": "http.request", "body": body}

    async def send(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            assert out.status is None, 'Received multiple "http.response.start" messages.'
            out.status = message["status"]
            out.headers = [(key.decode(), value.decode()) for key, value in message.get("headers", [])]
            out.trailers_expected = message.get("trailers", False)
        elif kind == "http.response.body":
            assert out.status is not None, 'Received "http.response.body" without "http.response.start".'
            assert not complete.is_set(), 'Received "http.response.body" after response completed.'
            assert not out.body_complete, 'Received "http.response.body" after body completed.'
            out.chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                out.body_complete = True
                if not out.trailers_expected:
                    complete.set()
        elif kind == "http.response.trailers":
            assert out.trailers_expected, 'Received "http.response.trailers" without declaring trailers.'
            assert out.body_complete, 'Received "http.response.trailers" before body completed.'
            assert not complete.is_set(), 'Received "http.response.trailers" after response completed.'
            out.trailers.extend(message.get("headers", []))
            if not message.get("more_trailers", False):
                complete.set()
        elif kind == "http.response.debug":
            out.debug = message["info"]

    try:
        await app(scope, receive, send)
    except Exception as exc:  # what Starlette's client raises (or turns into a 500) once the call is over
        out.error = exc
    finally:
        complete.set()
    return out


def _whole(transport: Any, request: Any) -> Any:
    import httpx

    scope = http_scope(transport, request)
    body = request.read()
    with transport.portal_factory() as portal:
        out = portal.call(_run_whole, transport.app, scope, body)
    if out.error is not None and transport.raise_server_exceptions:
        raise out.error
    if out.status is None:
        if transport.raise_server_exceptions:
            raise AssertionError("TestClient did not receive any response.")
        response = httpx.Response(status_code=500, headers=[], stream=httpx.ByteStream(b""), request=request)
    else:
        content = b"" if request.method == "HEAD" else b"".join(out.chunks)
        response = httpx.Response(status_code=out.status, headers=out.headers, stream=httpx.ByteStream(content),
                                  request=request)
    if out.trailers_expected:
        response.extensions["http.response.trailers"] = out.trailers
    if out.debug is not None:
        response.extensions["http.response.debug"] = out.debug
        if "template" in out.debug:
            response.template = out.debug["template"]  # type: ignore[attr-defined]
        if "context" in out.debug:
            response.context = out.debug["context"]  # type: ignore[attr-defined]
    return response
