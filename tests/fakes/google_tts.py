"""A local stand-in for Google Translate's TTS endpoint, speaking the batchexecute protocol gTTS uses.

Real HTTP on 127.0.0.1, real MP3s: each requested chunk is spoken by espeak-ng and encoded with ffmpeg's
libmp3lame at 24 kHz mono (the format Google returns). Behaviour is scriptable per request:

    "ok"       answer with audio
    "hang"     accept the request, never answer (until the server stops): exercises timeouts
    429 / 500  answer with that HTTP status (and no audio)

`script(*behaviours)` queues behaviours for the next requests (then `default` applies);
`fail_text(substring, status, times)` fails only requests whose chunk contains `substring`.
Every request is logged (`log`, `count(text)`), so tests can assert how often each chunk was fetched.
"""
from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from content.audio.ffmpeg import run_ffmpeg
from content.tts.espeak import synthesize_pcm

from tests.serving import FAST_SHUTDOWN

RPC_ID = "jQ1olc"
PATH = "/_/TranslateWebserverUi/data/batchexecute"


@dataclass(frozen=True)
class LoggedRequest:
    text: str
    lang: str
    slow: bool
    behaviour: str | int


def speak_mp3(text: str, slow: bool = False) -> bytes:
    pcm = synthesize_pcm(text, "vi", 0.6 if slow else 1.0)
    return run_ffmpeg(
        ["-f", "s16le", "-ar", str(pcm.rate), "-ac", "1", "-i", "pipe:0",
         "-ar", "24000", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3", "pipe:1"],
        stdin=pcm.to_int16_bytes(), timeout=60,
    )


def batchexecute_reply(mp3: bytes) -> bytes:
    """The reply shape gTTS parses: an XSSI prefix, then compact JSON lines holding the base64 MP3."""
    inner = json.dumps([base64.b64encode(mp3).decode("ascii")], separators=(",", ":"))
    envelope = json.dumps([["wrb.fr", RPC_ID, inner, None, None, None, "generic"]], separators=(",", ":"))
    return f")]}}'\n\n{len(envelope)}\n{envelope}\n".encode()


def parse_request(body: bytes) -> tuple[str, str, bool]:
    form = urllib.parse.parse_qs(body.decode("utf-8"))
    rpc = json.loads(form["f.req"][0])
    rpc_id, args_json = rpc[0][0][0], rpc[0][0][1]
    if rpc_id != RPC_ID:
        raise ValueError(f"unexpected rpc {rpc_id}")
    text, lang, speed, _ = json.loads(args_json)
    return text, lang, bool(speed)


class FakeGoogleTts:
    def __init__(self) -> None:
        self.default: str | int = "ok"
        self.log: list[LoggedRequest] = []
        self._queue: deque[str | int] = deque()
        self._text_failures: list[list] = []  # [substring, status, remaining]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True)

    # ---- control ------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def translate_url(self, tld: str = "com", path: str = "") -> str:
        """Drop-in for gtts.tts._translate_url."""
        return self.base_url + path

    def script(self, *behaviours: str | int) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def fail_text(self, substring: str, status: str | int, times: int = 10**9) -> None:
        with self._lock:
            self._text_failures.append([substring, status, times])

    def reset(self) -> None:
        with self._lock:
            self.default, self._queue, self._text_failures = "ok", deque(), []
            self.log.clear()

    def count(self, text: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.log if text is None or text in r.text)

    def start(self) -> "FakeGoogleTts":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ---- serving ------------------------------------------------------------------------------------
    def _choose(self, text: str) -> str | int:
        with self._lock:
            for rule in self._text_failures:
                if rule[0] in text and rule[2] > 0:
                    rule[2] -= 1
                    return rule[1]
            return self._queue.popleft() if self._queue else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if urllib.parse.urlsplit(self.path).path != PATH:
                    return self._send(404, b"not found")
                try:
                    text, lang, slow = parse_request(body)
                except (KeyError, ValueError, IndexError) as exc:
                    return self._send(400, str(exc).encode())
                behaviour = fake._choose(text)
                with fake._lock:
                    fake.log.append(LoggedRequest(text, lang, slow, behaviour))
                if behaviour == "hang":
                    fake._stopping.wait()
                    self.close_connection = True
                    return
                if isinstance(behaviour, int):
                    return self._send(behaviour, b"error", {"Retry-After": "0"} if behaviour == 429 else None)
                self._send(200, batchexecute_reply(speak_mp3(text, slow)))

            def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        return Handler
