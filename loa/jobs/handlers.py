"""Which function runs each kind of job. The one place the worker meets the domain packages."""
from __future__ import annotations

from loa.jobs.models import Job
from loa.jobs.worker import Handler, JobContext, PermanentJobError


def _render_text(ctx: JobContext, job: Job) -> dict:
    from content.library.render import RenderRefused, render_item_job

    try:
        return render_item_job(ctx.engine, ctx.settings, job.payload, ctx.now)
    except RenderRefused as exc:
        raise PermanentJobError(str(exc)) from exc


def _master_recording(ctx: JobContext, job: Job) -> dict:
    from content.library.master_job import MasteringRefused, master_item_job

    try:
        return master_item_job(ctx.engine, ctx.settings, job.payload, ctx.now)
    except MasteringRefused as exc:
        raise PermanentJobError(str(exc)) from exc


def _render_cap(ctx: JobContext, job: Job) -> dict:
    from content.library.render import RenderRefused
    from schedules.cap_service import render_job

    try:
        return render_job(ctx.engine, ctx.settings, job.payload, ctx.now)
    except RenderRefused as exc:
        raise PermanentJobError(str(exc)) from exc


def default_handlers() -> dict[str, Handler]:
    return {"content.render_text": _render_text, "content.master_recording": _master_recording,
            "schedules.cap_render": _render_cap}
