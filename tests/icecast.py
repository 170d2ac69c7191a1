"""A real radio station for the relay and live tests: Debian's Icecast 2 plus ffmpeg as its source client.

- `Icecast` starts `icecast2` on a free port in a temp dir with a generated config (source and admin
  passwords), waits until it answers, and stops it cleanly. Missing binary → skip with the `apt-get install
  icecast2` reason (a failure under LOA_TEST_STRICT=1, see tests/tools.py).
- `Feeder` is the "radio station": ffmpeg reads a real audio file in a loop (`-re -stream_loop -1`) and pushes
  it to a mount as MP3, Ogg/Vorbis, Ogg/Opus or AAC in ADTS. `kill()` makes the station die mid-way.
- `HlsStream` is the HLS kind (as VOV publishes): ffmpeg's hls muxer writes a live, rolling playlist of AAC in
  MPEG-TS segments into a temp dir, which a local HTTP server thread serves.

    with Icecast() as ice, Feeder(ice, "/vov1.mp3", some_file, "mp3"):
        url = ice.url("/vov1.mp3")                      # what a listener (agent, hub) opens
        ice.source_url("/hub.mp3")                      # icecast://source:<pw>@… for a pushing ffmpeg

All helpers are context managers and also have `stop()`, so a test can end the stream halfway through.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

from tests.tools import require_tool
from tests.ports import free_port

# How each format is encoded and which Content-Type Icecast announces for it.
FORMATS: dict[str, tuple[list[str], str]] = {
    "mp3": (["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"], "audio/mpeg"),
    "ogg": (["-c:a", "libvorbis", "-q:a", "2", "-f", "ogg"], "application/ogg"),
    "opus": (["-c:a", "libopus", "-b:a", "48k", "-f", "ogg"], "audio/ogg"),
    "aac": (["-c:a", "aac", "-b:a", "64k", "-f", "adts"], "audio/aac"),
}


@functools.cache
def _ffmpeg() -> str:
    from content.audio.ffmpeg import ffmpeg_exe

    return ffmpeg_exe()


def _stop(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _config(port: int, root: Path, source_pw: str, admin_pw: str) -> str:
    web = "/usr/share/icecast2/web" if Path("/usr/share/icecast2/web").is_dir() else str(root)
    admin = "/usr/share/icecast2/admin" if Path("/usr/share/icecast2/admin").is_dir() else str(root)
    # Icecast refuses to run as root unless it drops to another user (CI runs as root in a container).
    owner = ("<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
             if os.geteuid() == 0 else "")
    return f"""<icecast>
  <location>loa-tests</location><admin>tests@loa.invalid</admin><hostname>127.0.0.1</hostname>
  <limits><clients>200</clients><sources>20</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout><source-timeout>5</source-timeout>
    <burst-on-connect>1</burst-on-connect><burst-size>16384</burst-size></limits>
  <authentication><source-password>{escape(source_pw)}</source-password>
    <relay-password>{escape(source_pw)}</relay-password>
    <admin-user>admin</admin-user><admin-password>{escape(admin_pw)}</admin-password></authentication>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths><basedir>{root}</basedir><logdir>{root}/log</logdir><webroot>{web}</webroot>
    <adminroot>{admin}</adminroot><pidfile>{root}/icecast.pid</pidfile></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"""


class Icecast:
    """Debian's icecast2 on 127.0.0.1:<free port>, configured in its own temp dir."""

    def __init__(self, *, source_password: str | None = None, admin_password: str | None = None) -> None:
        self.exe = require_tool("icecast2", apt="icecast2", why="máy chủ phát thanh cho kiểm thử tiếp âm / "
                                "the streaming server for the relay tests")
        self.source_password = source_password or "src-" + secrets.token_hex(6)
        self.admin_password = admin_password or "adm-" + secrets.token_hex(6)
        self.root = Path(tempfile.mkdtemp(prefix="loa-icecast-"))
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, mount: str) -> str:
        """What a listener opens."""
        return f"{self.base}/{mount.lstrip('/')}"

    def source_url(self, mount: str) -> str:
        """What a source client (ffmpeg) pushes to."""
        return f"icecast://source:{self.source_password}@127.0.0.1:{self.port}/{mount.lstrip('/')}"

    def start(self, timeout: float = 15.0) -> "Icecast":
        (self.root / "log").mkdir(exist_ok=True)
        if os.geteuid() == 0:  # it writes its logs as `nobody` after dropping root
            self.root.chmod(0o755)
            shutil.chown(self.root / "log", "nobody", "nogroup")
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            cfg = self.root / "icecast.xml"
            cfg.write_text(_config(self.port, self.root, self.source_password, self.admin_password))
            self.proc = subprocess.Popen([self.exe, "-c", str(cfg)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self.status() is not None:
                    return self
                time.sleep(0.1)
            err = self._log_tail()
            _stop(self.proc)
        raise RuntimeError(f"icecast2 did not start on 127.0.0.1:{self.port}: {err}")

    def _log_tail(self) -> str:
        parts = []
        if self.proc is not None and self.proc.poll() is not None and self.proc.stderr:
            parts.append(self.proc.stderr.read().decode("utf-8", "replace"))
        log = self.root / "log" / "error.log"
        if log.exists():
            parts.append(log.read_text("utf-8", "replace"))
        return "\n".join(parts)[-1500:]

    def status(self) -> dict | None:
        """Icecast's own status JSON, or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.base}/status-json.xsl", timeout=2) as resp:
                return json.loads(resp.read().decode("utf-8", "replace"))
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def mounts(self) -> dict[str, dict]:
        """The mounts that have a source now, by mount path ("/vov1.mp3")."""
        sources = ((self.status() or {}).get("icestats") or {}).get("source") or []
        if isinstance(sources, dict):  # one source is an object, several a list
            sources = [sources]
        return {"/" + s["listenurl"].split("/", 3)[3]: s for s in sources if s.get("listenurl")}

    def wait_mount(self, mount: str, timeout: float = 15.0, present: bool = True) -> None:
        mount = "/" + mount.lstrip("/")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (mount in self.mounts()) == present and (not present or self._listenable(mount)):
                return
            time.sleep(0.1)
        raise TimeoutError(f"icecast mount {mount} {'never came up' if present else 'stayed'}: {self._log_tail()}")

    def _listenable(self, mount: str) -> bool:
        """A listener is served now: the status page lists a mount from the source's connection on, and a
        listener who came that early was refused (404), which a relay takes as the radio being off air."""
        try:
            with urllib.request.urlopen(self.url(mount), timeout=2) as reply:
                return reply.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        _stop(self.proc)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Icecast":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Feeder:
    """ffmpeg as the radio station's source client: `audio` (a real file) in a loop, into `mount`."""

    def __init__(self, icecast: Icecast, mount: str, audio: str | os.PathLike, fmt: str = "mp3",
                 *, name: str = "Loa test radio") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r}: one of {sorted(FORMATS)}")
        self.icecast, self.mount, self.audio, self.fmt, self.name = icecast, mount, Path(audio), fmt, name
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        codec, content_type = FORMATS[self.fmt]
        return [_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                "-i", str(self.audio), "-vn", "-ac", "1", "-ar", "48000" if self.fmt == "opus" else "44100",
                *codec, "-content_type", content_type, "-ice_name", self.name,
                self.icecast.source_url(self.mount)]

    def start(self, timeout: float = 15.0) -> "Feeder":
        """ffmpeg on air, its mount listenable. A source client that exits before its mount is up (as one did
        once in CI, with nothing in Icecast's log: it never got its source in) is started again, as a radio's
        encoder reconnects; what it said goes into the error if the mount never comes."""
        deadline = time.monotonic() + timeout
        said: list[str] = []
        while True:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    self.icecast.wait_mount(self.mount, min(1.0, max(0.1, deadline - time.monotonic())))
                    return self
                except TimeoutError:
                    continue
            if self.proc.poll() is not None and self.proc.stderr:
                said.append(f"ffmpeg exited {self.proc.returncode}: "
                            + self.proc.stderr.read().decode("utf-8", "replace")[-500:])
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"icecast mount {self.mount} never came up: {' | '.join(said)[-1500:]}\n"
                                   f"{self.icecast._log_tail()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """The station dies without a goodbye (SIGKILL): listeners see the stream stop mid-way."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        running = self.proc is not None and self.proc.poll() is None
        _stop(self.proc)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        if running:  # off air once Icecast has dropped the mount: a feeder started next is not mistaken for it
            with contextlib.suppress(TimeoutError):
                self.icecast.wait_mount(self.mount, 10, present=False)

    def __enter__(self) -> "Feeder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HlsStream:
    """A live HLS stream: ffmpeg writes a rolling playlist (AAC in MPEG-TS) that an HTTP thread serves."""

    def __init__(self, audio: str | os.PathLike, *, segment: float = 1.0, window: int = 6) -> None:
        self.audio, self.segment, self.window = Path(audio), segment, window
        self.root = Path(tempfile.mkdtemp(prefix="loa-hls-live-"))
        self.proc: subprocess.Popen | None = None
        root = self.root

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def log_message(self, *args: object) -> None:  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/index.m3u8"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self, timeout: float = 20.0) -> "HlsStream":
        self.thread.start()
        self.proc = subprocess.Popen(
            [_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
             "-i", str(self.audio), "-vn", "-ac", "1", "-c:a", "aac", "-b:a", "64k", "-f", "hls",
             "-hls_time", f"{self.segment:g}", "-hls_list_size", str(self.window),
             "-hls_flags", "delete_segments+omit_endlist", "-hls_segment_type", "mpegts",
             "-hls_segment_filename", str(self.root / "seg%05d.ts"), str(self.root / "index.m3u8")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        playlist = self.root / "index.m3u8"
        deadline = time.monotonic() + timeout
        # a listener needs a few segments listed before it can start at the live edge
        while time.monotonic() < deadline and self.proc.poll() is None:
            if playlist.exists() and playlist.read_text(errors="replace").count("#EXTINF") >= 2:
                return self
            time.sleep(0.1)
        err = self.proc.stderr.read().decode("utf-8", "replace") if self.proc.poll() is not None else ""
        self.stop()
        raise RuntimeError(f"HLS stream did not start: {err[-800:]}")

    def kill(self) -> None:
        """The packager dies: the playlist stops growing (and then goes away, as a dead server's would)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            (self.root / "index.m3u8").unlink()

    def stop(self) -> None:
        _stop(self.proc)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "HlsStream":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
