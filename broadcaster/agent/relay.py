"""A relayed radio stream that cannot be reached or dies mid-way: retry for a bounded time, then give up.

`RelayRetry` wraps the agent's sink. Audio files pass straight through. For a `relay` item it restarts the
sink (ffmpeg) whenever the stream ends before the item's planned end or fails, with a growing pause
(1, 2, 4 … 10 s), as long as the current outage is younger than `budget_s` (docs/device-protocol.md §4,
"Relays"). Meanwhile the relay stays on air in the player's eyes (nothing lower starts during a short
drop-out). When the budget is spent the sink reports `failed` with a reason code; the player logs the play
`failed` with that code and, nothing else being due, plays the manifest's fallback.

Reason codes (the play log's `reason` starts with one, then `:` and ffmpeg's last words):
- `relay_unreachable` — the stream never played: refused, 404, not audio, no answer within the budget.
- `relay_lost` — it played, then died (source gone, link down) and did not come back within the budget.
Heartbeat events: `relay_retry` once at the start of each outage, `relay_resumed` when it plays again, and
the final code when the agent gives up.

Why outage time and not attempt counts: a dead host makes every attempt wait for ffmpeg's read timeout, a
refused port fails in milliseconds; only wall time is a budget the station can promise to the commune.
An attempt counts as having played once it ran twice ffmpeg's read timeout (so an attempt that only waited
for a silent host does not count as audio).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from broadcaster.agent.sinks import Sink, SinkItem, SinkStatus
from broadcaster.protocol.wire import RELAY_FAILURES

DEFAULT_BUDGET_S = 60.0   # how long one outage may last before the fallback takes over (loa-agent --relay-retry)
READ_TIMEOUT_S = 8.0      # ffmpeg's -rw_timeout for a stream: no bytes this long = the stream is gone
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 10.0)
END_SLACK = timedelta(seconds=1.5)  # a stream cut at its planned length by `-t` ends "on time" within this


@dataclass
class _Run:
    item: SinkItem
    planned_end: datetime
    attempt_started: datetime
    attempts: int = 1
    outage_since: datetime | None = None   # when the current outage began (None: playing fine)
    retry_at: datetime | None = None       # the next attempt, while pausing between attempts
    played_once: bool = False
    reported_outage: bool = False


class RelayRetry:
    """A sink for the player: relays restart within a time budget; everything else is the inner sink's."""

    def __init__(self, inner: Sink, *, budget_s: float = DEFAULT_BUDGET_S,
                 report: Callable[[str, str], None] = lambda code, detail: None,
                 read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.inner = inner
        self.budget = timedelta(seconds=budget_s)
        self.report = report
        self.healthy = timedelta(seconds=2 * read_timeout_s)
        self._run: _Run | None = None
        if hasattr(inner, "read_timeout_s"):  # ffmpeg gives up on a silent stream before we call it healthy
            inner.read_timeout_s = read_timeout_s

    # -- the Sink protocol -------------------------------------------------------------------------------
    def start(self, item: SinkItem, now: datetime) -> None:
        self._run = None
        if item.kind == "relay":
            self._run = _Run(item, now + timedelta(seconds=item.duration), now)
        self.inner.start(item, now)

    def stop(self, now: datetime) -> None:
        self._run = None
        self.inner.stop(now)

    def set_volume(self, volume: int, now: datetime) -> None:
        if self._run is not None:
            self._run.item = replace(self._run.item, volume=volume)
        if hasattr(self.inner, "set_volume"):
            self.inner.set_volume(volume, now)

    def expected_end(self) -> datetime | None:
        run = self._run
        if run is not None and run.retry_at is not None:
            return run.retry_at  # the player wakes for the next attempt
        return self.inner.expected_end()

    def poll(self, now: datetime) -> SinkStatus:
        run = self._run
        if run is None:
            return self.inner.poll(now)
        if run.retry_at is not None:
            if now < run.retry_at:
                return SinkStatus("playing")
            self._attempt(run, now)
            return SinkStatus("playing")
        status = self.inner.poll(now)
        if status.state == "playing":
            if run.outage_since is not None and now - run.attempt_started >= self.healthy:
                self.report("relay_resumed", f"{run.item.play_id}: {run.attempts}x")
                run.outage_since, run.reported_outage, run.played_once = None, False, True
            return status
        if status.state == "finished" and now + END_SLACK >= run.planned_end:
            self._run = None
            return status
        return self._dropped(run, now, status)

    # -- retries ---------------------------------------------------------------------------------------------
    def _dropped(self, run: _Run, now: datetime, status: SinkStatus) -> SinkStatus:
        """The stream ended early or failed: pause and try again, or give up once the outage is too old."""
        detail = status.detail or "stream ended early"
        if now - run.attempt_started >= self.healthy:
            run.played_once = True
            run.outage_since = now  # it played until now: a new outage starts here
        elif run.outage_since is None:
            run.outage_since = run.attempt_started
        if not run.reported_outage:
            run.reported_outage = True
            self.report("relay_retry", f"{run.item.play_id}: {detail[:200]}")
        pause = timedelta(seconds=BACKOFF_S[min(run.attempts - 1, len(BACKOFF_S) - 1)])
        give_up_at = run.outage_since + self.budget
        if now >= give_up_at or now + pause >= run.planned_end:
            self._run = None
            code = RELAY_FAILURES[1] if run.played_once else RELAY_FAILURES[0]  # relay_lost | relay_unreachable
            # no " / " in it: the station's pages split bilingual details there (Vietnamese / English)
            why = f"{run.attempts}x in {(now - run.outage_since).total_seconds():.0f}s: {detail}"
            self.report(code, f"{run.item.play_id}: {why[:200]}")
            return SinkStatus("failed", now, why, code=code)
        run.retry_at = min(now + pause, give_up_at)
        return SinkStatus("playing")

    def _attempt(self, run: _Run, now: datetime) -> None:
        left = (run.planned_end - now).total_seconds()
        run.retry_at, run.attempt_started = None, now
        run.attempts += 1
        self.inner.start(replace(run.item, duration=max(0.1, left)), now)
