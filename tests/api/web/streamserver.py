"""A real radio stream for the relay tests: an MP3 made with the bundled ffmpeg, served by a local HTTP server
thread (Icecast may not be installed). Paths: /radio.mp3 (the file), /live.mp3 (an endless stream paced like
a live radio, as Icecast sends it), /radio.pls and /radio.m3u (playlists naming /radio.mp3), /hls/master.m3u8
and /hls/index.m3u8 (HLS made by ffmpeg: AAC in MPEG-TS segments, as VOV publishes), /page.html (a web page,
not audio), /missing (404), /to-internal, /internal.pls and /hls/inside.m3u8 (pointing to private
addresses)."""
from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from content.audio.ffmpeg import ffmpeg_exe

from tests.serving import FAST_SHUTDOWN


def make_mp3(seconds: float = 8.0) -> bytes:
    return subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1"],
        check=True, capture_output=True, timeout=60).stdout


def make_hls(folder: Path, seconds: float = 12.0) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=660:duration={seconds}", "-ac", "1",
         "-c:a", "aac", "-b:a", "64k", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
         "-hls_segment_type", "mpegts", "-hls_segment_filename", str(folder / "seg%03d.ts"),
         str(folder / "index.m3u8")], check=True, capture_output=True, timeout=60)
    (folder / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\n"
                                         "index.m3u8\n")
    (folder / "inside.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n"
                                         "http://10.9.8.7/seg.ts\n#EXT-X-ENDLIST\n")


class RadioServer:
    def __init__(self) -> None:
        self.mp3 = make_mp3()
        self.hls = Path(tempfile.mkdtemp(prefix="loa-hls-"))
        make_hls(self.hls)
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
                elif self.path == "/radio.pls":
                    self._send(200, "audio/x-scpls", f"[playlist]\nNumberOfEntries=1\nFile1={radio.base}/radio.mp3\n"
                               "Title1=Test\nLength1=-1\nVersion=2\n".encode())
                elif self.path == "/radio.m3u":
                    self._send(200, "audio/x-mpegurl", f"#EXTM3U\n#EXTINF:-1,Test\n{radio.base}/radio.mp3\n".encode())
                elif self.path == "/internal.pls":
                    self._send(200, "audio/x-scpls", b"[playlist]\nFile1=http://192.168.0.10:8000/live\n")
                elif self.path.startswith("/hls/") and (radio.hls / self.path[5:]).is_file():
                    name = self.path[5:]
                    kind = "application/vnd.apple.mpegurl" if name.endswith(".m3u8") else "video/mp2t"
                    self._send(200, kind, (radio.hls / name).read_bytes())
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
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True)

    def __enter__(self) -> "RadioServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
