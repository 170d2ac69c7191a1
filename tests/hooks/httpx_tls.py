"""Test-only: the suite's httpx clients share one verifying TLS context instead of building one each.

Every `httpx.Client()` and every top-level `httpx.get/post(...)` builds an `HTTPTransport`, which calls
`create_ssl_context()`: it loads certifi's whole CA bundle into a new `ssl.SSLContext`, ~30 ms of CPU on this
machine, even for the plain-HTTP requests to 127.0.0.1 that nearly all tests make (a wait for a server polls
`/api/v1/health` every 0.2 s with a new client each time). httpx's own documentation recommends sharing one
context; that is all this does, for the default case only: `verify=True`, no client certificate, and the same
SSL_CERT_FILE / SSL_CERT_DIR as when it was built. A test passing its own context or `verify=False` gets
exactly what it asked for. The context is never changed after it is built, so sharing it changes nothing a
request does: tests/test_httpx_tls_hook.py checks it engages and still verifies certificates and host names."""
from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_shared: dict[tuple[Any, ...], Any] = {}
stats = {"built": 0, "shared": 0}


def install() -> None:
    import httpx._transports.default as transports

    original = transports.create_ssl_context
    if getattr(original, "loa_shared", False):
        return

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None:
            return original(verify=verify, cert=cert, trust_env=trust_env)
        key = (trust_env, os.environ.get("SSL_CERT_FILE") if trust_env else None,
               os.environ.get("SSL_CERT_DIR") if trust_env else None)
        with _lock:
            ctx = _shared.get(key)
            if ctx is None:
                ctx = _shared[key] = original(verify=True, cert=None, trust_env=trust_env)
                stats["built"] += 1
            else:
                stats["shared"] += 1
        return ctx

    create_ssl_context.loa_shared = True  # type: ignore[attr-defined]
    transports.create_ssl_context = create_ssl_context
