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

from loa.jobs import service
from loa.jobs.models import Job

log = logging.getLogger("loa.jobs")


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (the input is bad): the job fails at once."""


@dataclass
class JobContext:
    engine: Engine
    settings: Any
    now: datetime


Handler = Callable[[JobContext, Job], "dict | None"]


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
        job = service.claim(self.engine, self.worker_id, now, self.settings.job_lease_seconds,
                            kinds=list(self.handlers))
        if job is None:
            return None
        handler = self.handlers[job.kind]
        try:
            result = handler(JobContext(self.engine, self.settings, now), job)
        except PermanentJobError as exc:
            service.fail(self.engine, job.id, self.worker_id, str(exc), now, 0, permanent=True)
        except Exception as exc:  # noqa: BLE001  (any failure is retried with backoff)
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
            service.fail(self.engine, job.id, self.worker_id, detail, now, self.settings.job_backoff_seconds)
        else:
            service.complete(self.engine, job.id, self.worker_id, result, now)
        return job

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
