"""X-Loa-Server-Time on every device reply (errors included): the device's clock estimate (§9) needs it."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broadcaster.protocol.wire import API_PREFIX, SERVER_TIME_HEADER


def _millis(now: datetime) -> str:
    """UTC, milliseconds, `Z`: 2026-11-23T05:59:58.123Z (isoformat is C; strftime parses its pattern)."""
    return now.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


class ServerTime:
    def __init__(self, app: ASGIApp, clock: Callable[[], datetime]) -> None:
        self.app, self.clock = app, clock
        self.header = SERVER_TIME_HEADER.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((self.header, _millis(self.clock()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)
