"""A pure-ASGI guard on request body size: 413 before reading when Content-Length is too big, and 413 as
soon as a chunked body passes the limit (the app's own error response is replaced)."""
from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


def _problem(limit: int) -> bytes:
    import json

    mb = max(1, limit // (1024 * 1024))
    return json.dumps({
        "type": "urn:loa:problem:too_large", "title": "Tệp quá lớn", "status": 413,
        "detail": f"Dữ liệu gửi lên quá lớn (tối đa {mb} MB)", "code": "too_large",
        "message_vi": f"Dữ liệu gửi lên quá lớn (tối đa {mb} MB)",
        "message_en": f"The request body is too large (limit {mb} MB)", "limit_bytes": limit,
    }, ensure_ascii=False).encode()


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def _reject(self, send: Send, limit: int) -> None:
        body = _problem(limit)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        await self._reject(send, limit)
                        return
                except ValueError:
                    pass
        seen = 0
        overflowed = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, overflowed
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    overflowed = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overflowed:
                if not started and message["type"] == "http.response.start":
                    started = True
                    await self._reject(send, limit)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)
