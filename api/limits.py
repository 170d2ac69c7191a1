"""Per-request limits in one place: who the client is (`client_address`, for every per-address limit and the
audit log), and a pure-ASGI guard on request body size (413 before reading when Content-Length is too big, and
413 as soon as a chunked body passes the limit; the app's own error response is replaced)."""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


# ---------------------------------------------------------------- the client's address

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def trusted_networks(spec: str) -> tuple[_Network, ...]:
    """LOA_TRUSTED_PROXIES ("10.0.0.5, 172.31.240.0/24") parsed; empty = trust nobody. A typo fails loudly."""
    out = []
    for part in spec.replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError as exc:
                raise ValueError(f"LOA_TRUSTED_PROXIES: {part!r} is not an address or a CIDR network") from exc
    return tuple(out)


def _is_trusted(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def client_address(scope: Any, trusted_proxies: str) -> str:
    """The address every per-address limit (login lockout, enrollment codes, …) and the audit log use.

    The socket peer, unless that peer is one of our proxies (`trusted_proxies`, LOA_TRUSTED_PROXIES): then
    X-Forwarded-For is read from the right, skipping our own proxies, and the first address they did not add
    is the client. Anything a client writes into the header itself sits to the left of that and is ignored,
    so sending "X-Forwarded-For: 1.2.3.4" changes nothing. uvicorn's own proxy-header rewrite is turned off
    (`loa serve`, `loa demo`): this is the only place that reads the header. `scope` is an ASGI scope (or
    anything with `.scope`, such as a Starlette Request)."""
    scope = getattr(scope, "scope", scope)
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    networks = trusted_networks(trusted_proxies or "")
    if not networks or not _is_trusted(address, networks):
        return address
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
    for hop in reversed([h for h in hops if h]):
        if not _is_trusted(hop, networks):
            return hop
        address = hop
    return address


# ---------------------------------------------------------------- body size


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
