"""How the suite's own little HTTP servers (fake Google TTS, file servers, stream servers) run in a thread.

`socketserver.BaseServer.serve_forever` checks for `shutdown()` once per `poll_interval`, 0.5 s by default, so
every fixture teardown waited up to half a second doing nothing (0.5 s on most tests of tests/broadcaster).
A 50 ms poll costs nothing measurable and ends the wait; what the servers serve is unchanged."""
from __future__ import annotations

FAST_SHUTDOWN = {"poll_interval": 0.05}  # kwargs for threading.Thread(target=server.serve_forever, ...)
