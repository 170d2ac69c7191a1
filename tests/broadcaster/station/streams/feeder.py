"""A phone for tests and the bench: posts a WebM/Opus recording to a live session in numbered slices at the
pace it was recorded (as MediaRecorder with a small timeslice does), on its own thread."""
from __future__ import annotations

import threading
import time

import httpx


class PhoneFeeder:
    def __init__(self, base_url: str, headers: dict[str, str], session_id: int, data: bytes, seconds: float,
                 slice_s: float = 0.25) -> None:
        self.client = httpx.Client(base_url=base_url, headers={**headers, "Content-Type": "audio/webm"}, timeout=10)
        self.url = f"/api/v1/live/{session_id}/audio"
        self.data, self.seconds, self.slice_s = data, seconds, slice_s
        self.stop_event = threading.Event()
        self.sent = 0
        self.errors: list[str] = []
        self.started_wall: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "PhoneFeeder":
        self.thread.start()
        return self

    def _run(self) -> None:
        per_slice = max(1, int(len(self.data) / self.seconds * self.slice_s))
        self.started_wall = t0 = time.time()
        for seq, lo in enumerate(range(0, len(self.data), per_slice)):
            if self.stop_event.is_set():
                return
            r = self.client.post(self.url, params={"seq": seq}, content=self.data[lo:lo + per_slice])
            if r.status_code != 204:
                self.errors.append(f"{r.status_code} {r.text[:200]}")
                return
            self.sent = seq + 1
            time.sleep(max(0.0, t0 + (seq + 1) * self.slice_s - time.time()))

    def stop(self) -> None:
        """The phone goes silent (its link dropped, or the cadre's stop)."""
        self.stop_event.set()
        self.thread.join(timeout=10)
        self.client.close()
