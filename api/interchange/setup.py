"""Wiring the interchange into the app: this station's identity, the receiver, the routes, and the outbox
resumed at start (its pump is a persistent job; a restart only makes sure one is queued)."""
from __future__ import annotations

from fastapi import FastAPI

from broadcaster.interchange import identity, outbox
from broadcaster.interchange.receiver import Receiver
from content.store import AudioStore


def install(app: FastAPI) -> None:
    from api.interchange.router import admin_router, router

    st = app.state
    settings = st.settings
    st.interchange = Receiver(engine=st.engine, me=identity.load(settings, st.engine), store=AudioStore(settings.audio_dir),
                              skew_s=settings.interchange_clock_skew_s, timeout_s=settings.interchange_timeout_s)
    app.include_router(router)
    app.include_router(admin_router)


def startup(app: FastAPI) -> None:
    outbox.start(app.state.engine, app.state.clock())
