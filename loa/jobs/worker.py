"""The worker: claims jobs and runs their handlers, in a thread inside `loa serve` or alone in tests."""
from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from loa.errors import LoaError, split_bilingual
from loa.jobs import service
from loa.jobs.models import FAILED, Job

log = logging.getLogger("loa.jobs")


class PermanentJobError(LoaError):
    """A failure that retrying cannot fix (the input is bad): the job fails at once. Any permanent member of the
    error family (loa.errors.LoaError with retryable False) is treated the same."""

    def __init__(self, message: str, code: str = "job_failed") -> None:
        super().__init__(message)
        vi, en = split_bilingual(message)
        self._describe(code, vi, en, retryable=False)


def is_permanent(exc: BaseException) -> bool:
    """A failure the worker must not retry: a member of the error family that says retrying cannot help."""
    return isinstance(exc, LoaError) and not exc.retryable


@dataclass
class JobContext:
    engine: Engine
    settings: Any
    now: datetime


Handler = Callable[[JobContext, Job], "dict | None"]
# Called once when a job of that kind has failed for good (permanent error, last attempt, or a lease that ran out
# on the last attempt because the worker died): the domain marks what the job was for as failed, so nothing
# waits forever on a job that will never run again ("Đang làm âm thanh…" for ever).
FailureHook = Callable[[JobContext, Job, str], None]


def with_failure_hook(handler: Handler, hook: FailureHook) -> Handler:
    handler.on_failed = hook  # type: ignore[attr-defined]
    return handler


class Worker:
    def __init__(self, engine: Engine, settings: Any, handlers: dict[str, Handler], clock: Callable[[], datetime],
                 worker_id: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.handlers = handlers
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> Job | None:
        """Claims and runs one job; returns it (as claimed) or None if nothing was due."""
        now = now or self.clock()
        for dead in service.fail_exhausted(self.engine, now):
            self._failed_for_good(dead, service.LEASE_EXPIRED, now)
        job = service.claim(self.engine, self.worker_id, now, self.settings.job_lease_seconds,
                            kinds=list(self.handlers))
        if job is None:
            return None
        handler = self.handlers[job.kind]
        try:
            result = handler(JobContext(self.engine, self.settings, now), job)
        except Exception as exc:  # noqa: BLE001  (a permanent error fails at once, any other is retried)
            if not is_permanent(exc):
                self._retry_later(job, exc, now)
            elif service.fail(self.engine, job.id, self.worker_id, str(exc), now, 0, permanent=True) == FAILED:
                self._failed_for_good(job, str(exc), now)
        else:
            service.complete(self.engine, job.id, self.worker_id, result, now)
        return job

    def _retry_later(self, job: Job, exc: Exception, now: datetime) -> None:
        """A retryable member of the error family, or anything unexpected: retried with backoff."""
        log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        if service.fail(self.engine, job.id, self.worker_id, detail, now,
                        self.settings.job_backoff_seconds) == FAILED:
            self._failed_for_good(job, f"{type(exc).__name__}: {exc}", now)

    def _failed_for_good(self, job: Job, error: str, now: datetime) -> None:
        hook = getattr(self.handlers.get(job.kind), "on_failed", None)
        if hook is None:
            return
        try:
            hook(JobContext(self.engine, self.settings, now), job, error)
        except Exception:  # noqa: BLE001  (a hook failure must not stop the worker; it is logged)
            log.exception("failure hook of job %s (%s)", job.id, job.kind)

    def run_until_idle(self, now: datetime | None = None, limit: int = 100) -> int:
        count = 0
        while count < limit and self.run_once(now) is not None:
            count += 1
        return count

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # noqa: BLE001  (the database may be briefly unavailable: keep the thread alive)
                log.exception("job worker error")
                ran = None
            if ran is None:
                self._stop.wait(self.settings.worker_poll_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="loa-job-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
