"""Which function runs each kind of job. The one place the worker meets the domain packages."""
from __future__ import annotations

from content.library.master_job import MasteringRefused, master_item_job
from content.library.render import RenderRefused, mark_render_died, render_item_job
from loa.jobs.models import Job
from loa.jobs.worker import Handler, JobContext, PermanentJobError, with_failure_hook
from schedules.cap_service import render_job


def _render_text(ctx: JobContext, job: Job) -> dict:
    try:
        return render_item_job(ctx.engine, ctx.settings, job.payload, ctx.now, job.attempts, job.max_attempts)
    except RenderRefused as exc:
        raise PermanentJobError(str(exc)) from exc


def _master_recording(ctx: JobContext, job: Job) -> dict:
    try:
        return master_item_job(ctx.engine, ctx.settings, job.payload, ctx.now)
    except MasteringRefused as exc:
        raise PermanentJobError(str(exc)) from exc


def _render_cap(ctx: JobContext, job: Job) -> dict:
    try:
        return render_job(ctx.engine, ctx.settings, job.payload, ctx.now, job.attempts, job.max_attempts)
    except RenderRefused as exc:
        raise PermanentJobError(str(exc)) from exc


def _render_failed(ctx: JobContext, job: Job, error: str) -> None:
    """Both render jobs are for a content item: if the job died without saying so on the item (its worker
    stopped during the last attempt, or an unexpected error), the item ends `failed` with a reason."""

    mark_render_died(ctx.engine, job.payload, ctx.now, error)


def _interchange_pump(ctx: JobContext, job: Job) -> dict:
    from broadcaster.interchange import identity, outbox

    return outbox.pump(ctx.engine, identity.load(ctx.settings, ctx.engine), ctx.settings, ctx.now)


def _interchange_pump_failed(ctx: JobContext, job: Job, error: str) -> None:
    """The outbox must never stop: a pump that failed for good is replaced by a new one."""
    from broadcaster.interchange import outbox

    outbox.start(ctx.engine, ctx.now)


def default_handlers() -> dict[str, Handler]:
    return {"content.render_text": with_failure_hook(_render_text, _render_failed),
            "content.master_recording": with_failure_hook(_master_recording, _render_failed),
            "schedules.cap_render": with_failure_hook(_render_cap, _render_failed),
            "interchange.pump": with_failure_hook(_interchange_pump, _interchange_pump_failed)}
