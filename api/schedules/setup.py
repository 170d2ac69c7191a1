"""Wiring of the schedules domain into the app: the ScheduleService, its routers, and the StationScheduler.

The scheduler runs in this process when `start_scheduler` says so, else when LOA_SCHEDULER_ENABLED says so,
else wherever the job worker runs in-process (so `loa serve` runs it and the tests, whose worker is off, do
not). Run it in exactly one process: set LOA_SCHEDULER_ENABLED=false on API processes when a dedicated
`loa scheduler` runs."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fastapi import FastAPI

from schedules.service import ScheduleService, register, unregister


log = logging.getLogger("loa.schedules.setup")


def content_changed(app: FastAPI, commune_id: int, now: datetime) -> None:
    """An item's airability changed (approved, archived, edited back to draft: committed already). Re-materialize
    its commune now, not at the scheduler's next tick: a play of it on air is cut at once by a signed stop
    (docs/device-protocol.md §4a) and a newly approved one gets its plays. A failure is logged: the tick does
    the same work later."""
    svc = getattr(app.state, "schedules", None)
    if svc is None:
        return
    try:
        svc.materialize_commune(commune_id, now)
    except Exception:  # noqa: BLE001
        log.exception("re-materializing commune %s after a content change failed", commune_id)


def install(app: FastAPI, start_scheduler: bool | None, run_worker: bool) -> None:
    from api.schedules.emergency import router as emergency_router
    from api.schedules.router import router as schedules_router

    settings = app.state.settings
    app.state.schedules = ScheduleService(app.state.engine, timedelta(hours=settings.scheduler_horizon_hours))
    if start_scheduler is None:
        start_scheduler = settings.scheduler_enabled if settings.scheduler_enabled is not None else run_worker
    app.state.run_scheduler = start_scheduler
    app.state.scheduler = None
    app.include_router(schedules_router)
    app.include_router(emergency_router)
    from api.schedules.streams import router as streams_router  # relay streams (issue 14)

    app.include_router(streams_router)
    from api.schedules.overview import router as overview_router  # commune report overview (issue 14)

    app.include_router(overview_router)


def startup(app: FastAPI) -> None:
    from broadcaster.station.airviews import aired_between
    from schedules.jobs import StationJobs

    register(app.state.schedules)
    if app.state.run_scheduler:
        settings = app.state.settings
        jobs = StationJobs(app.state.engine, app.state.schedules, settings.device_offline_after_s,
                           aired=aired_between)
        app.state.scheduler = jobs.scheduler(app.state.clock, settings.timezone)
        app.state.scheduler.start()


def shutdown(app: FastAPI) -> None:
    if app.state.scheduler is not None:
        app.state.scheduler.shutdown(wait=True)
        app.state.scheduler = None
    unregister(app.state.schedules)
