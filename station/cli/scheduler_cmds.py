"""`loa scheduler`: the station's one scheduler as a dedicated process (scale-out), or one pass (`--once`).

Run exactly one scheduler per database: set LOA_SCHEDULER_ENABLED=false for the API processes when this runs.
The server side is imported inside the command so `loa agent` never loads it."""
from __future__ import annotations

from typing import Optional

import typer

DATA_DIR_HELP = "Thư mục dữ liệu / data directory (default: $LOA_DATA_DIR or ./data)"


def register(app: typer.Typer) -> None:
    @app.command()
    def scheduler(
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        once: bool = typer.Option(False, "--once", help="Chạy mỗi việc một lần rồi thoát / run every job once"),
        run_jobs: bool = typer.Option(False, "--run-jobs",
                                      help="Cũng chạy việc dựng âm thanh / also run render jobs here"),
    ) -> None:
        """Bộ lập lịch của đài / the station scheduler (timetables, renders, expiry, offline, reports)."""
        import json
        import signal
        import threading
        from datetime import datetime, timedelta

        from loa.db import make_engine, upgrade
        from station.handlers import default_handlers
        from loa.jobs.worker import Worker
        from loa.settings import Settings
        from schedules.jobs import StationJobs
        from schedules.service import ScheduleService, register as register_service

        settings = Settings.load(data_dir)
        engine = make_engine(settings.db_url)
        upgrade(engine)
        clock = lambda: datetime.now(settings.tz)  # noqa: E731
        service = register_service(ScheduleService(engine, timedelta(hours=settings.scheduler_horizon_hours)))
        worker = Worker(engine, settings, default_handlers(), clock) if run_jobs else None
        from broadcaster.station.airviews import aired_between

        jobs = StationJobs(engine, service, settings.device_offline_after_s, worker, aired=aired_between)
        # what this process changes (the rolling window, expiry, a queued CAP emergency) is nudged over MQTT
        from broadcaster.station.process_nudges import ProcessNudges

        nudges = ProcessNudges.attach(service, engine, settings, clock, background=not once)
        if once:
            result = jobs.run_all_once(clock())
            typer.echo(json.dumps(result, default=str, ensure_ascii=False))
            if nudges is not None:
                nudges.close()
            engine.dispose()
            return
        sched = jobs.scheduler(clock, settings.timezone)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        sched.start()
        typer.echo(f"Loa scheduler: {settings.db_url.split('@')[-1]} · jobs {sorted(sched.jobs())}", err=True)
        try:
            stop.wait()
        finally:
            sched.shutdown(wait=True)
            if nudges is not None:
                nudges.close()
            engine.dispose()
