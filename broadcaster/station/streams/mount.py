"""One mount: one ffmpeg process that reads a source once (an upstream URL, or bytes the caller feeds), levels,
encodes MP3 and hands every chunk to the fan-out. Threads, not asyncio, own the process pipes, so a caller on
any event loop (or none) can feed and listen."""
from __future__ import annotations

import asyncio
import os
import logging
import queue
import subprocess
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import IO, AsyncIterator, Callable, Iterator

from broadcaster.station.streams import chain
from broadcaster.station.streams.fanout import AsyncListener, Fanout, ThreadListener

log = logging.getLogger("loa.streams")

READ_CHUNK = 4096          # ~0.5 s of 64 kb/s MP3 at most; os.read returns what is there, so often less
FEED_QUEUE = 512           # chunks waiting for ffmpeg's stdin; beyond that the caller's bytes are refused


class MountClosed(Exception):
    """feed() on a mount whose ffmpeg is gone (closed, or it failed: `Mount.error` says why)."""


class Mount:
    def __init__(self, name: str, *, ffmpeg: str, source: str | None, level: bool = True,
                 input_format: str | None = None, icecast_push: str | None = None,
                 on_exit: Callable[[Mount], None] | None = None) -> None:  # the hub forgets it
        self.name = name
        self.source = source
        self.level = level
        self.started_at = datetime.now(timezone.utc)
        self.last_input_at: datetime | None = None     # last fed bytes (live) / last upstream audio (relay)
        self._last_input_mono = time.monotonic()
        self.first_output_mono: float | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.error: str | None = None
        self.commune_id: int | None = None  # whose devices may listen (the hub sets it)
        self.fanout = Fanout()
        self._stderr: deque[str] = deque(maxlen=20)
        self._feed_q: queue.Queue[bytes | None] = queue.Queue(maxsize=FEED_QUEUE)
        self._closing = False
        self._on_exit = on_exit
        cmd = chain.command(ffmpeg, source, level=level, input_format=input_format, icecast_push=icecast_push)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if source is None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        out, err = _piped(self.proc.stdout), _piped(self.proc.stderr)
        self._threads = [threading.Thread(target=self._read_out, args=(out,), daemon=True, name=f"mount-{name}-out"),
                         threading.Thread(target=self._read_err, args=(err,), daemon=True, name=f"mount-{name}-err")]
        if source is None:
            self._threads.append(threading.Thread(target=self._write_in, args=(_piped(self.proc.stdin),), daemon=True,
                                                  name=f"mount-{name}-in"))
        for t in self._threads:
            t.start()

    # --- state -----------------------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return not self._closing and self.proc.poll() is None

    def idle_seconds(self) -> float:
        """Seconds since the last input (the live watchdog ends a session whose phone went quiet)."""
        return time.monotonic() - self._last_input_mono

    @property
    def listeners(self) -> int:
        return self.fanout.count

    def _touch(self) -> None:
        self._last_input_mono = time.monotonic()
        self.last_input_at = datetime.now(timezone.utc)

    # --- input -----------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes of the caller's encoded stream (live: the browser's WebM/Opus chunks), in order."""
        if self.source is not None:
            raise ValueError("this mount pulls its own source")
        if not self.alive:
            raise MountClosed(self.error or "mount closed")
        if not data:
            return
        try:
            self._feed_q.put_nowait(bytes(data))
        except queue.Full:
            raise MountClosed("ffmpeg không theo kịp / ffmpeg is not keeping up") from None
        self.bytes_in += len(data)
        self._touch()

    def _write_in(self, stdin: IO[bytes]) -> None:
        try:
            while True:
                data = self._feed_q.get()
                if data is None:
                    break
                stdin.write(data)
        except (BrokenPipeError, OSError, ValueError):
            pass
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    # --- output ----------------------------------------------------------------------------------------------
    def _read_out(self, stdout: IO[bytes]) -> None:
        fd = stdout.fileno()
        try:
            while True:
                chunk = os.read(fd, READ_CHUNK)
                if not chunk:
                    break
                if self.first_output_mono is None:
                    self.first_output_mono = time.monotonic()
                if self.source is not None:
                    self._touch()
                self.bytes_out += len(chunk)
                self.fanout.publish(chunk)
        finally:
            self.proc.wait()
            if self.proc.returncode not in (0, None) and not self._closing:
                self.error = (self._stderr[-1] if self._stderr else f"ffmpeg exited {self.proc.returncode}")
                log.warning("mount %s: ffmpeg exited %s: %s", self.name, self.proc.returncode, self.error)
            self._closing = True
            self.fanout.close()
            if self._on_exit is not None:
                self._on_exit(self)

    def _read_err(self, stderr: IO[bytes]) -> None:
        for line in iter(stderr.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace").strip())

    async def listen(self) -> AsyncIterator[bytes]:
        """MP3 bytes from now on, until the mount ends or this listener falls too far behind."""
        listener = self.fanout.add(AsyncListener(self.fanout.max_chunks, asyncio.get_running_loop()))
        try:
            async for chunk in listener.chunks():
                yield chunk
        finally:
            self.fanout.remove(listener)

    def listen_sync(self, timeout: float | None = None) -> Iterator[bytes]:
        """The same for a thread; stops after `timeout` s without a chunk. Registered at the call, so nothing
        produced between this call and the first next() is lost."""
        listener = self.fanout.add(ThreadListener(self.fanout.max_chunks))
        return self._drain(listener, timeout)

    def _drain(self, listener: ThreadListener, timeout: float | None) -> Iterator[bytes]:
        try:
            yield from listener.chunks(timeout)
        finally:
            self.fanout.remove(listener)

    # --- end -------------------------------------------------------------------------------------------------
    def close(self, grace_s: float = 1.0) -> None:
        """End the input (ffmpeg flushes what it holds), then stop ffmpeg if it lingers. Listeners end."""
        if self.source is None:
            try:
                self._feed_q.put_nowait(None)
            except queue.Full:
                pass
        was_closing, self._closing = self._closing, True
        if self.source is not None and self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._threads:
            t.join(timeout=2)
        if not was_closing:
            self.fanout.close()


def _piped(stream: IO[bytes] | None) -> IO[bytes]:
    """A pipe Popen was asked for (PIPE): it is there; None would mean the command line above changed."""
    if stream is None:
        raise RuntimeError("ffmpeg started without the pipe this mount reads or writes")
    return stream
