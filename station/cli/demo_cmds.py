"""`loa demo`: the demo commune, its station and nine village agents, in one command."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

import typer


def _wait_healthy(url: str, timeout_s: float = 60.0, stop: threading.Event | None = None) -> None:
    """Until the station answers its health check, or `stop` is set (then it returns at once)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    # one client for every poll: each new one loads the whole CA bundle (~30 ms of CPU), for a local http URL
    with httpx.Client(timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            try:
                if client.get(f"{url}/api/v1/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"the station did not start at {url}")


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _catch_stop_signals(stop: threading.Event) -> None:
    """Ctrl+C (SIGINT) and `kill` (SIGTERM) ask the demo to stop by setting `stop`; they raise nothing.

    Raised as KeyboardInterrupt, a signal that lands inside `Thread.join` makes CPython 3.11 mark the station's
    thread as finished while it still runs (join's clean-up releases the lock the running thread holds): the
    demo then returned at once, the station's own shutdown (job worker, scheduler, database) never ran, and the
    process now and then crashed at exit (uvloop's timer calling into the finalized interpreter: 4 of
    ~40 stops here). An exception at any other point of the start (between two agents) skipped the clean-up too."""
    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # started with it ignored (a background job): so be it
            signal.signal(sig, request_stop)


def _start_agents(engine, commune_id: int, url: str, root: Path, now: datetime,
                  procs: list[subprocess.Popen], stop: threading.Event) -> None:
    """One `loa agent` process per loudspeaker cluster, each with its own data directory and file sink, added
    to `procs` as it starts (so that a stop, or a failure, part way through stops those already running).
    Stops starting more once `stop` is set."""
    from broadcaster.agent.state import AgentState
    from station.demo import demo_devices, enrollment_codes

    devices = demo_devices(engine, commune_id)
    new = [device_id for device_id, _ in devices if AgentState(root / f"device-{device_id}").credentials() is None]
    codes = enrollment_codes(engine, new, now) if new else {}
    for device_id, _name in devices:
        if stop.is_set():
            return
        folder = root / f"device-{device_id}"
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "station.cli.main", "agent", "--station", url, "--data-dir", str(folder),
               "--sink", "file"]
        if device_id in codes:
            cmd += ["--enroll-code", codes[device_id]]
        log = open(folder / "agent.log", "ab")
        with log:  # the child has its own copy of the descriptor
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        host: str = typer.Option("127.0.0.1", help="Địa chỉ lắng nghe / listen address"),
        port: int = typer.Option(8000, help="Cổng / port"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Thư mục dữ liệu / data directory"),
        agents: bool = typer.Option(True, "--agents/--no-agents", help="Chạy 9 cụm loa mô phỏng / run 9 agents"),
        first_broadcast_in: float = typer.Option(
            120, min=5, help="Giây tới lần phát thử đầu tiên / seconds until the first test broadcast"),
    ) -> None:
        """Xã trình diễn: đài, 9 thôn, 9 cụm loa / the demo commune: station, 9 villages, 9 agents."""
        from rich.console import Console

        console = Console(stderr=True)
        # before anything is written, and before the station's modules are imported (a CPU-second or two that a
        # demo which cannot start does not need): another program (or demo) holds the port
        if not _port_free(host, port):
            console.print(f"[bold red]Cổng {port} đang bị chương trình khác dùng / port {port} is already in use"
                          "[/bold red] — thử / try: --port 8080", soft_wrap=True)
            raise typer.Exit(1)

        import uvicorn
        from rich.progress import Progress
        from rich.table import Table

        from api.app import create_app
        from station.cli.server_cmds import uvicorn_options
        from loa.db import make_engine, session_scope, upgrade
        from station.demo import COMMUNE, find_demo_commune, seed
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        engine = make_engine(settings.db_url)
        upgrade(engine)
        now = datetime.now(settings.tz)
        with session_scope(engine) as s:
            commune_id = find_demo_commune(s)
        if commune_id is None:
            console.print(f"[bold]Tạo xã trình diễn / creating the demo commune[/bold] in {settings.resolved_data_dir}")
            with Progress(console=console) as bar:
                task = bar.add_task("Đọc các bản tin / rendering announcements", total=None)

                def progress(_stage: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                created = seed(engine, now, progress, settings, timedelta(seconds=first_broadcast_in))
            commune_id = created.commune_id
            table = Table(title="Tài khoản (chỉ in một lần) / accounts (printed once)")
            for column in ("tên đăng nhập / user", "vai trò / role", "mật khẩu / password"):
                table.add_column(column)
            for username, (role, password) in created.passwords.items():
                table.add_row(username, role, password)
            console.print(table)
        else:
            console.print(f"Xã trình diễn đã có / the demo commune exists in {settings.resolved_data_dir} "
                          "(mật khẩu đã in lần đầu / passwords were printed at first start)")

        url = f"http://{host}:{port}"
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning",
                                                **uvicorn_options(settings)))
        thread = threading.Thread(target=server.run, name="loa-station", daemon=True)
        stop = threading.Event()
        procs: list[subprocess.Popen] = []
        # From here on a stop always goes through the clean-up below, whenever it comes: the village agents stop
        # first (they must not play on alone), then the station (its lifespan shutdown), then the database.
        _catch_stop_signals(stop)
        thread.start()
        try:
            _wait_healthy(url, stop=stop)
            if stop.is_set():
                return
            if not server.started:  # taken between the check above and now: the health answer was another's
                console.print(f"[bold red]Cổng {port} đang bị chương trình khác dùng / port {port} is already in "
                              "use[/bold red] — thử / try: --port 8080", soft_wrap=True)
                raise typer.Exit(1)
            if agents:
                _start_agents(engine, commune_id, url, settings.resolved_data_dir / "agents", now, procs, stop)
            if stop.is_set():
                return
            console.print(
                f"\n[bold green]Đài {COMMUNE} đang chạy / the station is running:[/bold green] {url}/app\n"
                f"  Trang cho bà con / residents' page: {url}/r\n"
                f"  API: {url}/docs\n"
                f"  Cụm loa / agents: {len(procs)} — nhật ký và âm thanh đã phát / logs and played audio in "
                f"{settings.resolved_data_dir / 'agents'}\n"
                "Nhấn Ctrl+C để dừng / press Ctrl+C to stop."
            )
            # is_set and sleep, not stop.wait(): the handler's stop.set() takes the event's lock, which a wait
            # in this same thread may hold when the signal comes
            while thread.is_alive() and not stop.is_set():
                time.sleep(0.2)
        finally:
            # A second Ctrl+C (an impatient press, or dev.py passing the first one on) or a second `kill` must
            # not cut this clean-up short; it is bounded anyway (10 s an agent, then kill; 10 s the station).
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            server.should_exit = True
            thread.join(10)
            if thread.is_alive():  # a request or the shutdown itself hangs: uvicorn's hard stop
                server.force_exit = True
                thread.join(5)
            engine.dispose()
