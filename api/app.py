"""The FastAPI application factory: database and migrations, auth, routers, errors, the in-process worker."""
from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from api import errors
from api.auth.router import router as auth_router
from api.auth.router import setup_router
from api.auth.router import users_router
from api.content.router import router as content_router
from api.content.packs import router as packs_router
from api.devices import setup as devices_setup
from api.limits import BodyLimit
from api.security_headers import add_security_headers
from api.org.router import router as org_router
from api.schedules import setup as schedules_setup
from content.store import AudioStore
from loa.accounts import auth, passwords
from loa.db import make_engine, session_scope, upgrade
from station.handlers import default_handlers
from loa.jobs.worker import Worker
from loa.settings import Settings

log = logging.getLogger("loa.api")


class StationApp(FastAPI):
    """FastAPI with the device fast path (api/devices/fastpath.py) in front of everything, FastAPI's own
    per-request work included: a `304` for a manifest is most of a station's traffic. `fast_path` hands
    whatever it does not answer to the normal app, unchanged."""

    fast_path: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None and scope["type"] == "http":
            await self.fast_path(scope, receive, send)
        else:
            await self.full_stack(scope, receive, send)

    async def full_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Everything but the fast path's own replies, with the security headers (api/security_headers.py)
        added outside FastAPI's error handling, so error pages carry them too."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                add_security_headers(message, path)
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


class Health(BaseModel):
    status: str
    database: str


def create_app(settings: Settings | None = None, clock: Callable[[], datetime] | None = None,
               start_worker: bool | None = None, start_scheduler: bool | None = None) -> FastAPI:
    """The station API. `clock` gives "now" (tests pass a fixed one); `start_worker` overrides
    settings.worker_enabled (the worker thread runs jobs in this process)."""
    settings = settings or Settings.load()
    clock = clock or (lambda: datetime.now(settings.tz))
    engine = make_engine(settings.db_url)
    worker = Worker(engine, settings, default_handlers(), clock)
    run_worker = settings.worker_enabled if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        upgrade(engine)
        settings.audio_dir.mkdir(parents=True, exist_ok=True)
        for leftover in settings.tmp_dir.glob("upload-*.part"):  # a crash mid-upload left it: nobody owns it
            leftover.unlink(missing_ok=True)
        # half-written audio a crash left in the store (older than an hour: a render of this process is younger)
        AudioStore(settings.audio_dir).sweep_temp()
        passwords.warm_up()  # the unknown-user login's equaliser hash, before the first login (not at import)
        with session_scope(engine) as session:
            token = auth.new_setup_token(session, clock())
        app.state.setup_token = token
        if token and settings.print_setup_token:
            print("Chưa có tài khoản nào. Mã thiết lập một lần / No accounts yet. One-time setup token:\n"
                  f"    {token}\n"
                  "POST /api/v1/setup {token, username, password} — hoặc/or: loa admin create USERNAME --role admin",
                  file=sys.stderr, flush=True)
        if run_worker:
            worker.start()
        devices_setup.startup(app)
        schedules_setup.startup(app)
        interchange_setup.startup(app)  # the outbox resumes (docs/interchange.md)
        # Everything built so far (modules, routes, models: ~10^5 objects) lives as long as the process: out of
        # the collector's way. Measured in-process on bench/fanout.py's world (1,000 devices): collections during
        # an emergency's materialize + manifests took ~80 ms, 5-6 ms with the startup objects frozen.
        gc.freeze()
        try:
            yield
        finally:
            schedules_setup.shutdown(app)
            devices_setup.shutdown(app)
            if run_worker:
                worker.stop()
            engine.dispose()

    app = StationApp(
        title="Loa — đài truyền thanh xã / commune loudspeaker station",
        version="1.0",
        description="Errors are application/problem+json with a stable `code`; Vietnamese first "
                    "(`Accept-Language: en` for English titles). Cookie sessions need X-CSRF-Token on unsafe "
                    "methods; bearer tokens do not.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock
    app.state.worker = worker
    app.state.setup_token = None
    errors.install(app)
    app.add_middleware(BodyLimit, limit_for=lambda path: settings.max_upload_bytes + 64 * 1024
                       if path.endswith("/recordings") else settings.max_json_bytes)

    @app.get("/api/v1/health", response_model=Health, tags=["system"])
    def health() -> Health:
        return Health(status="ok", database=engine.dialect.name)

    app.include_router(setup_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(org_router)
    app.include_router(content_router)
    app.include_router(packs_router)
    schedules_setup.install(app, start_scheduler, run_worker)  # schedules, timetables, emergencies, CAP
    devices_setup.install(app)  # /api/device/v1 (device auth) and the cadre's device pages
    from api.interchange import setup as interchange_setup  # between stations (issue 16, docs/interchange.md)

    interchange_setup.install(app)
    from api.metrics import router as metrics_router  # GET /metrics, Prometheus (issue 8, docs/operations.md)

    app.include_router(metrics_router)
    from api.bulletins.router import router as bulletins_router  # issue 16: bulletins down, reports up

    app.include_router(bulletins_router)
    from api.bulletins.admin import router as levels_router  # districts and province/district staff

    app.include_router(levels_router)
    from api.web.router import router as web_router  # HTML pages (issue 6); not in the OpenAPI document
    app.include_router(web_router)
    return app
