"""ffmpeg processes fed and read a chunk at a time, so neither side ever holds a whole recording.

A feeder thread writes the input (if any) while the caller reads the output; stderr is drained by another
thread into a bounded tail (for the error message) and, when asked, handed block by block to a parser.
"""
from __future__ import annotations

import collections
import io
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO

import numpy as np

from content.audio.ffmpeg import FfmpegError, ffmpeg_exe

_STDERR_TAIL = 64 * 1024


def reader(stream: IO[bytes] | None) -> io.BufferedReader:
    """A process's stdout or stderr opened with PIPE (default buffering): a buffered reader, so it has read1."""
    if not isinstance(stream, io.BufferedReader):
        raise TypeError(f"not a buffered pipe: {stream!r}")
    return stream


def writer(stream: IO[bytes] | None) -> io.BufferedWriter:
    """A process's stdin opened with PIPE (default buffering)."""
    if not isinstance(stream, io.BufferedWriter):
        raise TypeError(f"not a buffered pipe: {stream!r}")
    return stream


def feed_stdin(proc: subprocess.Popen[bytes], feed: Iterable[np.ndarray | bytes], failures: list[BaseException]) -> None:
    """Write `feed` to ffmpeg's stdin (run on its own thread), then close it. A failure of the feed itself is
    kept in `failures` for the reader to re-raise, and ffmpeg is killed so the reader does not wait for ever."""
    stdin = writer(proc.stdin)
    try:
        for chunk in feed:
            stdin.write(as_bytes(chunk) if isinstance(chunk, np.ndarray) else chunk)
    except BrokenPipeError:
        pass  # ffmpeg stopped reading (it failed, or we stopped it); its exit status says why
    except BaseException as exc:  # noqa: BLE001  (reported to the reader, who re-raises it)
        failures.append(exc)
        proc.kill()
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


def as_bytes(chunk: np.ndarray) -> memoryview:
    return np.ascontiguousarray(chunk, dtype="<f4").data.cast("B")


class FfmpegStream:
    """One ffmpeg run with raw float32 on stdout (`channels` interleaved). Use as a context manager: leaving
    it early (an exception, or the caller stopping on purpose) kills the process."""

    def __init__(self, args: list[str], channels: int, feed: Iterable[np.ndarray | bytes] | None = None,
                 stderr_sink: Callable[[bytes], None] | None = None, timeout: float = 3600,
                 quiet: bool = True) -> None:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *(["-loglevel", "error"] if quiet else []), *args]
        self.channels = channels
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._stdout, self._stderr = reader(self.proc.stdout), reader(self.proc.stderr)
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._threads = [threading.Thread(target=self._drain_stderr, args=(stderr_sink,), daemon=True)]
        self._feed_error: list[BaseException] = []
        if feed is not None:
            self._threads.append(threading.Thread(target=self._feed, args=(feed,), daemon=True))
        self.timed_out = threading.Event()
        self._watchdog = threading.Timer(timeout, self._expire)
        for thread in self._threads:
            thread.start()
        self._watchdog.start()

    def _expire(self) -> None:
        self.timed_out.set()
        self.proc.kill()

    def _drain_stderr(self, sink: Callable[[bytes], None] | None) -> None:
        for block in iter(lambda: self._stderr.read1(1 << 16), b""):
            if sink is not None:
                sink(block)
            self._tail.append(block)
            self._tail_size += len(block)
            while self._tail_size > _STDERR_TAIL and len(self._tail) > 1:
                self._tail_size -= len(self._tail.popleft())

    def _feed(self, feed: Iterable[np.ndarray | bytes]) -> None:
        feed_stdin(self.proc, feed, self._feed_error)

    def chunks(self, frames: int) -> Iterator[np.ndarray]:
        """The output in chunks of `frames` frames (the last may be shorter): (frames,) or (frames, channels)."""
        size = frames * self.channels * 4
        while True:
            raw = self._stdout.read(size)
            if not raw:
                return
            raw = raw[: len(raw) // (4 * self.channels) * 4 * self.channels]
            samples = np.frombuffer(raw, dtype="<f4")
            yield samples.reshape(-1, self.channels) if self.channels > 1 else samples

    def detail(self) -> str:
        return b"".join(self._tail).decode("utf-8", "replace").strip()

    def finish(self) -> None:
        """Wait for the end and raise FfmpegError if ffmpeg failed (or a feed error, as it was)."""
        self._stdout.close()
        rc = self.proc.wait()
        for thread in self._threads:
            thread.join()
        self._watchdog.cancel()
        if self._feed_error:
            raise self._feed_error[0]
        if self.timed_out.is_set():
            raise FfmpegError("ffmpeg took too long")
        if rc != 0:
            detail = self.detail()
            raise FfmpegError(detail.splitlines()[-1] if detail else f"ffmpeg exited {rc}", detail)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for thread in self._threads:
            thread.join()
        self._watchdog.cancel()
        for stream in (self._stdout, self._stderr):
            stream.close()

    def __enter__(self) -> "FfmpegStream":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc.returncode is None:  # left without finish(): an error, or the caller stopped on purpose
            self.kill()


def f32_input(rate: int, channels: int) -> list[str]:
    return ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]


def f32_output(rate: int, channels: int) -> list[str]:
    return ["-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(rate), "pipe:1"]
