"""A real radio stream for the relay tests: an MP3 made with the bundled ffmpeg, served by a local HTTP server
thread (Icecast may not be installed). Paths: /radio.mp3 (the file), /live.mp3 (an endless stream paced like
a live radio, as Icecast sends it), /page.html (a web page, not audio), /missing (404), /to-internal (a
redirect to a private address)."""
from __future__ import annotations

import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from content.audio.ffmpeg import ffmpeg_exe


def make_mp3(seconds: float = 8.0) -> bytes:
    return subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1"],
        check=True, capture_output=True, timeout=60).stdout


class RadioServer:
    def __init__(self) -> None:
        self.mp3 = make_mp3()
        self.requests: list[str] = []
        self.live_sent = 0
        radio = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                radio.requests.append(self.path)
                if self.path == "/radio.mp3":
                    self._send(200, "audio/mpeg", radio.mp3)
                elif self.path == "/live.mp3":
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/mpeg")
                    self.send_header("icy-name", "Test radio")
                    self.end_headers()
                    try:  # 64 kbps: 8 KB a second, forever, until the listener hangs up
                        while True:
                            for i in range(0, len(radio.mp3), 2048):
                                self.wfile.write(radio.mp3[i:i + 2048])
                                self.wfile.flush()
                                radio.live_sent += 2048
                                time.sleep(0.25)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                elif self.path == "/page.html":
                    self._send(200, "text/html; charset=utf-8", b"<html><body>Radio</body></html>")
                elif self.path == "/to-internal":
                    self.send_response(302)
                    self.send_header("Location", "http://10.1.2.3/secret")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.base = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "RadioServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
