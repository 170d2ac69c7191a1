"""ScheduleService: keeps the stored timetable in step with the rules and tells subscribers what changed.

One instance per process (the API keeps it in `app.state.schedules`, `loa scheduler` builds its own).
`on_timetable_changed` is a list of callables that receive the set of device ids whose timetable version
changed; the broadcaster subscribes to nudge those devices. Callbacks run after the commit, and a failing
callback is logged, never raised (the timetable is already stored; a device also polls its version).
A process that did not make the change (the API, when a separate `loa scheduler` runs) learns of it with
`store.changed_devices_since(...)`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import col, select

from loa.db import session_scope
from loa.org.models import Commune
from schedules import store
from schedules.model import require_aware
from schedules.tables import saved_ids

log = logging.getLogger("loa.schedules")

Listener = Callable[[set[int]], None]
StopListener = Callable[[int, str, datetime], None]  # (commune id, rule key "s7"/"e12", when it was stopped)
WithdrawnListener = Callable[[int, str, datetime, set[int]], None]  # (commune, rule key, when, device ids)


class ScheduleService:
    def __init__(self, engine: Engine, horizon: timedelta = store.HORIZON) -> None:
        self.engine = engine
        self.horizon = horizon
        self.on_timetable_changed: list[Listener] = []
        # Told BEFORE the re-materialization that a rule was stopped: the broadcaster pushes a signed stop
        # command at once (docs/device-protocol.md §4a) instead of waiting for the rebuilt manifests.
        self.on_rule_stopped: list[StopListener] = []
        self.on_rule_started: list[StopListener] = []  # an emergency started: a signed start command, at once
        # Told AFTER the re-materialization (before the manifests are rebuilt) which devices lost the play of
        # a rule they have on air (an edit, not a stop): they are cut at once, whatever path changed it.
        self.on_plays_withdrawn: list[WithdrawnListener] = []

    def materialize_commune(self, commune_id: int, now: datetime, notify: bool = True,
                            stopped: Iterable[str] = (), started: Iterable[str] = ()) -> store.MaterializeResult:
        """Re-materialize one commune now (after a schedule or emergency is saved or cancelled). `stopped`,
        `started`: the rule keys this change stopped or started (committed already)."""
        require_aware(now, "now")
        for listeners, keys in ((self.on_rule_stopped, stopped), (self.on_rule_started, started)):
            for rule_key in keys:
                for listener in list(listeners):
                    try:
                        listener(commune_id, rule_key, now)
                    except Exception:  # noqa: BLE001 — the rebuilt manifests still say the same
                        log.exception("rule listener failed")
        result = self._with_retry(commune_id, now)
        self._withdrawn(commune_id, now, result, set(stopped), bool(started))
        if notify and result.changed:
            self._notify(result.changed)
        return result

    def _withdrawn(self, commune_id: int, now: datetime, result: store.MaterializeResult, stopped: set[str],
                   emergency_started: bool) -> None:
        # A stopped rule had its command already; an emergency that started pre-empts on the device itself
        # (its start command), so only the plays of other emergencies can still need a cut then.
        for rule_key, devices in sorted(result.withdrawn.items()):
            if rule_key in stopped or (emergency_started and not rule_key.startswith("e")):
                continue
            for listener in list(self.on_plays_withdrawn):
                try:
                    listener(commune_id, rule_key, now, set(devices))
                except Exception:  # noqa: BLE001 — the rebuilt manifests still say the same
                    log.exception("plays-withdrawn listener failed")

    def materialize_all(self, now: datetime) -> set[int]:
        """Every commune; returns the devices whose version changed (and tells the listeners once)."""
        require_aware(now, "now")
        with session_scope(self.engine) as s:
            communes = saved_ids(s.exec(select(col(Commune.id)).order_by(col(Commune.id))))
        changed: set[int] = set()
        for commune_id in communes:
            try:
                result = self._with_retry(commune_id, now)
            except Exception:  # noqa: BLE001 (one commune's bad row must not stop the others)
                log.exception("materialize commune %s failed", commune_id)
                continue
            changed |= result.changed
            self._withdrawn(commune_id, now, result, set(), False)  # e.g. an item archived since the last tick
        if changed:
            self._notify(changed)
        return changed

    def _with_retry(self, commune_id: int, now: datetime, attempts: int = 3) -> store.MaterializeResult:
        # Two writers (a tick of the scheduler and a save in the API) may race on SQLite: the loser hits the
        # unique key or a lock and simply recomputes; the result is the same pure function of the rules.
        for attempt in range(attempts):
            try:
                with session_scope(self.engine) as s:
                    result, _ = store.materialize_commune(s, commune_id, now, self.horizon)
                return result
            except (IntegrityError, OperationalError):
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _notify(self, changed: set[int]) -> None:
        for listener in list(self.on_timetable_changed):
            try:
                listener(set(changed))
            except Exception:  # noqa: BLE001
                log.exception("on_timetable_changed listener failed")


# One service per engine in this process, so a job handler (the CAP render) reaches the listeners the
# API or `loa scheduler` registered. An engine without a registered service gets a plain one.
_services: dict[int, ScheduleService] = {}


def register(service: ScheduleService) -> ScheduleService:
    _services[id(service.engine)] = service
    return service


def unregister(service: ScheduleService) -> None:
    if _services.get(id(service.engine)) is service:
        del _services[id(service.engine)]


def service_for(engine: Engine) -> ScheduleService:
    return _services.get(id(engine)) or ScheduleService(engine)
