"""Where sound goes. `FfmpegSink` plays through ffmpeg to ALSA on real hardware; `FileSink` records what would
have sounded, with timestamps, for tests and simulations (optionally copying the audio it "played")."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Protocol

from broadcaster.protocol.wire import format_time


@dataclass(frozen=True)
class SinkItem:
    play_id: str
    kind: str                # audio | relay | live
    source: str              # a local file path, or the stream URL for a relay or a live session
    duration: float          # seconds; a relay is cut at this length
    volume: int              # 0–100, station volume × local volume
    title: str = ""
    sha256: str | None = None
    priority: str = "normal"
    # A relay or live stream the agent itself fetches (a mount of the station's hub, with the device token and
    # the station's TLS trust): `feed(read_timeout_s)` opens it and returns a body with `iter_raw()` and
    # `close()`; the sink pumps it into ffmpeg's stdin. None: ffmpeg opens `source` itself. The token never
    # reaches ffmpeg's command line (which every user of the box can read in the process list).
    feed: Callable[[float], Any] | None = field(default=None, compare=False, repr=False)


class StreamBody(Protocol):
    def iter_raw(self) -> Iterator[bytes]: ...

    def set_read_timeout(self, seconds: float) -> None: ...

    def close(self) -> None: ...


# A live session's stream: give up after LIVE_READ_TIMEOUT_S without bytes (the link dropped: stop and report).
LIVE_READ_TIMEOUT_S = 3.0
# ...except before its first bytes: the station opens the session at once but the phone may take a while to send
# its first slice (opening the microphone, a slow upload over 3G); the station waits LOA_LIVE_FIRST_INPUT_TIMEOUT_S
# (15 s by default) for it. Giving up after 3 s there made every box report the link lost and join again.
LIVE_FIRST_BYTES_TIMEOUT_S = 20.0
# ...and decode from its first MP3 frame. The stream is MP3 by protocol (docs/device-protocol.md §4a), so ffmpeg
# is told so (`-f mp3`) and probes 32 bytes, not 8 kB: with `+nobuffer` whatever it read while probing is thrown
# away, and 8 kB is the first second of the session at 64 kb/s. Measured with the stream piped at its own pace:
# first sound after 1.13 s and 8.99 s of 10 heard before, 0.13 s and all 10 s now (ffmpeg's defaults: 1.38 s).
LIVE_INPUT = ("-f", "mp3", "-fflags", "+nobuffer", "-probesize", "32", "-analyzeduration", "0")


@dataclass(frozen=True)
class SinkStatus:
    state: str               # idle | playing | finished | failed
    at: datetime | None = None
    detail: str = ""
    code: str = ""           # a failure's reason code for the play log (relay_unreachable …); "" = sink_error


class Sink(Protocol):
    def start(self, item: SinkItem, now: datetime) -> None: ...

    def stop(self, now: datetime) -> None: ...

    def poll(self, now: datetime) -> SinkStatus: ...

    def expected_end(self) -> datetime | None: ...


class FileSink:
    """Records start/end/stop events to a JSONL file; playback "lasts" the item's duration on the given clock.
    A file that is missing or empty when started counts as a failure, as a real decoder would report."""

    def __init__(self, log_path: str | os.PathLike[str], copy_dir: str | os.PathLike[str] | None = None) -> None:
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.copy_dir = Path(copy_dir) if copy_dir else None
        self._item: SinkItem | None = None
        self._started: datetime | None = None
        self._failed: str | None = None
        self._lock = threading.Lock()
        self.count = 0

    def _write(self, event: str, at: datetime, **fields: object) -> None:
        record = {"event": event, "at": format_time(at), **fields}
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def start(self, item: SinkItem, now: datetime) -> None:
        with self._lock:
            self._item, self._started, self._failed = item, now, None
            self.count += 1
            if item.kind == "audio":
                src = Path(item.source)
                if not src.exists() or src.stat().st_size == 0:
                    self._failed = "file_unreadable"
                elif self.copy_dir is not None:
                    self.copy_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, self.copy_dir / f"{self.count:06d}-{item.play_id}")
            self._write("start", now, play_id=item.play_id, kind=item.kind, source=item.source,
                        sha256=item.sha256, title=item.title, priority=item.priority,
                        duration=item.duration, volume=item.volume)

    def stop(self, now: datetime) -> None:
        with self._lock:
            if self._item is not None:
                self._write("stop", now, play_id=self._item.play_id)
            self._item = self._started = None

    def set_volume(self, volume: int, now: datetime) -> None:
        with self._lock:
            if self._item is not None:
                self._item = replace(self._item, volume=volume)
                self._write("volume", now, play_id=self._item.play_id, volume=volume)

    def expected_end(self) -> datetime | None:
        if self._item is None or self._started is None:
            return None
        return self._started + timedelta(seconds=self._item.duration)

    def poll(self, now: datetime) -> SinkStatus:
        with self._lock:
            if self._item is None or self._started is None:  # (both are set together by start)
                return SinkStatus("idle")
            if self._failed:
                item, self._item = self._item, None
                self._write("failed", now, play_id=item.play_id, detail=self._failed)
                return SinkStatus("failed", now, self._failed)
            end = self._started + timedelta(seconds=self._item.duration)
            if now >= end:
                self._write("end", end, play_id=self._item.play_id)
                self._item = None
                return SinkStatus("finished", end)
            return SinkStatus("playing")


class FfmpegSink:
    """`ffmpeg -i <file or url> -af volume=… -f alsa default`. One process per item; stop = terminate."""

    def __init__(self, ffmpeg: str = "ffmpeg", output: tuple[str, ...] = ("-f", "alsa", "default"),
                 realtime: bool = False) -> None:
        self.ffmpeg = ffmpeg
        self.output = output
        # ALSA paces playback itself; for other outputs (tests, null) `-re` makes ffmpeg keep real time.
        self.realtime = realtime
        # A stream that sends nothing this long ends ffmpeg (then the relay retries, broadcaster/agent/relay.py);
        # without it a silent radio server would hold the loudspeaker silent until the relay's end.
        self.read_timeout_s: float | None = None
        self._feed_error = ""
        self.live_input: tuple[str, ...] = LIVE_INPUT  # bench/live.py compares with () (ffmpeg's defaults)
        self._proc: subprocess.Popen[bytes] | None = None
        self._item: SinkItem | None = None
        self._started: datetime | None = None

    def command(self, item: SinkItem, offset: float = 0.0) -> list[str]:
        args = [self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
        if self.realtime:
            args.append("-re")
        if offset > 0 and item.kind == "audio":
            args += ["-ss", f"{offset:.3f}"]
        source = item.source
        if item.kind == "live":
            args += list(self.live_input)
            if item.feed is not None:  # fed: the agent's own read timeout applies (_pump)
                source = "pipe:0"
            else:
                args += ["-rw_timeout", str(int(LIVE_READ_TIMEOUT_S * 1_000_000))]
        if item.kind == "relay":
            args += ["-t", f"{item.duration:.3f}"]
            if item.feed is not None:
                source = "pipe:0"
            elif self.read_timeout_s and item.source.startswith(("http://", "https://")):
                args += ["-rw_timeout", str(int(self.read_timeout_s * 1_000_000))]
        args += ["-i", source, "-vn", "-af", f"volume={max(0, min(100, item.volume)) / 100:.2f}"]
        return args + list(self.output)

    def start(self, item: SinkItem, now: datetime) -> None:
        self.stop(now)
        self._item, self._started = item, now
        self._proc = self._spawn(self.command(item), item, subprocess.DEVNULL)

    def _spawn(self, cmd: list[str], item: SinkItem, stdout: int) -> subprocess.Popen[bytes]:
        """ffmpeg for `item`; a fed relay gets a thread pumping the stream's bytes into its stdin."""
        self._feed_error = ""
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if item.feed else subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.PIPE)
        if item.feed is not None and proc.stdin is not None:  # stdin is the pipe whenever there is a feed
            # a live stream that sends nothing for LIVE_READ_TIMEOUT_S is a lost link (stop and report it), once it
            # has begun: it gets LIVE_FIRST_BYTES_TIMEOUT_S for its first bytes
            timeout = LIVE_READ_TIMEOUT_S if item.kind == "live" else (self.read_timeout_s or 30.0)
            first = max(timeout, LIVE_FIRST_BYTES_TIMEOUT_S) if item.kind == "live" else timeout
            threading.Thread(target=self._pump, args=(item.feed, proc, proc.stdin, timeout, first),
                             name="loa-stream-feed", daemon=True).start()
        return proc

    def _pump(self, feed: Callable[[float], StreamBody], proc: subprocess.Popen[bytes], stdin: IO[bytes],
              read_timeout_s: float, first_bytes_timeout_s: float) -> None:
        """Stream → ffmpeg until either ends. The stream's own error (404, refused, silent too long) is kept
        for `poll`: it says more than ffmpeg's "end of input". Until its first bytes the stream may be silent for
        `first_bytes_timeout_s`, then for `read_timeout_s` between two reads."""
        body = None
        waiting_first = first_bytes_timeout_s != read_timeout_s
        try:
            body = feed(first_bytes_timeout_s)
            for chunk in body.iter_raw():
                if proc.poll() is not None:
                    break
                if waiting_first:
                    body.set_read_timeout(read_timeout_s)
                    waiting_first = False
                stdin.write(chunk)
                stdin.flush()
        except (BrokenPipeError, ValueError):  # ffmpeg stopped (or was stopped): nothing more to pump
            pass
        except Exception as exc:  # noqa: BLE001 — any failure of the stream ends this attempt; relay.py retries
            self._feed_error = str(exc)[:300] or repr(exc)
        finally:
            if body is not None:
                body.close()
            try:
                stdin.close()
            except OSError:
                pass

    def set_volume(self, volume: int, now: datetime) -> None:
        """ffmpeg's volume filter is fixed at start: play on from where it is, at the new volume."""
        item, started = self._item, self._started
        if item is None or started is None or self._proc is None:
            return
        offset = max(0.0, (now - started).total_seconds())
        self.stop(now)
        if item.kind in ("relay", "live"):  # a live stream cannot seek: it goes on from now for what is left
            item, started = replace(item, duration=max(0.1, item.duration - offset)), now
            offset = 0.0
        self._item, self._started = replace(item, volume=volume), started
        self._proc = self._spawn(self.command(self._item, offset), self._item, subprocess.DEVNULL)

    def stop(self, now: datetime) -> None:
        proc, self._proc, self._item = self._proc, None, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stderr:
            proc.stderr.close()

    def expected_end(self) -> datetime | None:
        if self._item is None or self._started is None:
            return None
        return self._started + timedelta(seconds=self._item.duration)

    def wait(self, timeout: float | None = None) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass

    def poll(self, now: datetime) -> SinkStatus:
        if self._proc is None:
            return SinkStatus("idle")
        code = self._proc.poll()
        if code is None:
            return SinkStatus("playing")
        proc, item, self._proc, self._item = self._proc, self._item, None, None
        err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if self._feed_error:  # the stream failed under ffmpeg: that is the reason, whatever ffmpeg made of it
            # a live stream's failure (read timeout, refused, gone) is the session lost for this loudspeaker
            lost = "live_lost" if item is not None and item.kind == "live" else ""
            return SinkStatus("failed", now, f"stream: {self._feed_error}", code=lost)
        if code == 0 and item is not None and item.kind == "live" and "timed out" in err.lower():
            # ffmpeg exits 0 after its read timeout too: for a live session that is the link lost, not its end
            return SinkStatus("failed", now, err[-300:], code="live_lost")
        if code == 0:
            return SinkStatus("finished", now)
        return SinkStatus("failed", now, f"ffmpeg exit {code}: {err[-300:]}")
