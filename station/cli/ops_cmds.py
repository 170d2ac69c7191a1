"""Operations commands: `loa backup`, `loa restore`, `loa worker`, `loa broker-files`, `loa keys …`.

The server side is imported inside each command, so `loa agent` on a village box never loads it.
See docs/operations.md."""
from __future__ import annotations

from typing import Optional

import typer

DATA_DIR_HELP = "Thư mục dữ liệu / data directory (default: $LOA_DATA_DIR or ./data)"


def _fail(exc) -> None:
    typer.echo(f"Lỗi / error [{exc.code}]: {exc.message_vi} / {exc.message_en}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="Khóa ký của đài / the station's manifest-signing keys", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @app.command()
    def backup(
        out: str = typer.Argument(..., help="Tệp sao lưu / archive to write, e.g. loa-2026-11-22.tar.gz"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        no_audio: bool = typer.Option(False, "--no-audio",
                                      help="Bỏ kho âm thanh (đã sao chép bằng rsync) / skip the audio store"),
    ) -> None:
        """Sao lưu CSDL, khóa ký và kho âm thanh / back up the database, signing keys and audio store."""
        import json

        from station.ops.backup import BackupError, Layout, create_backup
        from station.ops.pg import PgToolError
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        try:
            manifest = create_backup(Layout.from_settings(settings), out, include_audio=not no_audio)
        except BackupError as exc:
            _fail(exc)
        except PgToolError as exc:
            typer.echo(f"Lỗi / error: {exc}", err=True)
            raise typer.Exit(1) from None
        summary = {"out": out, "database": manifest["database"], "keys": manifest["keys"]["key_ids"],
                   "audio_files": manifest["audio"]["files"], "audio_bytes": manifest["audio"]["bytes"]}
        typer.echo(json.dumps(summary, ensure_ascii=False))

    @app.command()
    def restore(
        archive: str = typer.Argument(..., help="Tệp sao lưu / archive made by `loa backup`"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        keep_old: bool = typer.Option(False, "--keep-old", help="Giữ lại dữ liệu cũ / keep the replaced state"),
        check_only: bool = typer.Option(False, "--check", help="Chỉ kiểm tra / only verify the archive"),
    ) -> None:
        """Khôi phục (dừng đài trước) / restore a backup (stop the station first). All or nothing."""
        import json
        import shutil
        import tempfile
        from pathlib import Path

        from station.ops.backup import BackupError, Layout
        from station.ops.pg import PgToolError
        from station.ops.restore import check, restore_backup
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        try:
            if check_only:
                staging = Path(tempfile.mkdtemp(prefix="loa-check-"))
                try:
                    manifest = check(archive, staging)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
                typer.echo(json.dumps({"ok": True, "files": len(manifest["files"]),
                                       "database": manifest["database"]}, ensure_ascii=False))
                return
            manifest = restore_backup(Layout.from_settings(settings), archive, keep_old=keep_old)
        except BackupError as exc:
            _fail(exc)
        except PgToolError as exc:
            typer.echo(f"Lỗi / error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(json.dumps({"restored": archive, "created_at": manifest["created_at"],
                               "database": manifest["database"], "files": len(manifest["files"]),
                               "old": manifest.get("old")}, ensure_ascii=False))

    @app.command()
    def worker(
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        until_idle: bool = typer.Option(False, "--until-idle", help="Chạy hết việc rồi thoát / drain, then exit"),
    ) -> None:
        """Tiến trình chạy việc nền (dựng âm thanh…) / a job-worker process (renders …); run as many as needed."""
        import signal
        import threading
        from datetime import datetime, timedelta

        from loa.db import make_engine, upgrade
        from station.handlers import default_handlers
        from loa.jobs.worker import Worker
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        engine = make_engine(settings.db_url)
        upgrade(engine)
        settings.audio_dir.mkdir(parents=True, exist_ok=True)
        clock = lambda: datetime.now(settings.tz)  # noqa: E731
        # A CAP alert's render job starts its emergency here: the devices are nudged from this process (MQTT)
        from broadcaster.station.process_nudges import ProcessNudges
        from schedules.service import ScheduleService, register as register_service

        service = register_service(ScheduleService(engine, timedelta(hours=settings.scheduler_horizon_hours)))
        nudges = ProcessNudges.attach(service, engine, settings, clock, background=not until_idle)
        w = Worker(engine, settings, default_handlers(), clock)
        if until_idle:
            typer.echo(f"ran {w.run_until_idle(limit=10_000)}")
            if nudges is not None:
                nudges.close()
            engine.dispose()
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        w.start()
        typer.echo(f"Loa worker {w.worker_id}: {settings.db_url.split('@')[-1]} · kinds {sorted(w.handlers)}", err=True)
        try:
            stop.wait()
        finally:
            w.stop()  # finishes the job in hand; a killed worker's job is reclaimed after its lease
            if nudges is not None:
                nudges.close()
            engine.dispose()

    @app.command("broker-files")
    def broker_files(
        out: str = typer.Option(..., "--out", help="Thư mục ghi loa.acl, loa.passwd / where to write them"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        station_user: str = typer.Option("loa-station", help="Tài khoản MQTT của đài / the station's broker user"),
        every: float = typer.Option(0.0, help="Giây giữa hai lần cập nhật (0 = một lần) / refresh period, 0 = once"),
        hup_pid_file: Optional[str] = typer.Option(None, help="Gửi SIGHUP cho Mosquitto khi đổi / SIGHUP this pid"),
    ) -> None:
        """Tệp mật khẩu và ACL cho Mosquitto / Mosquitto's password file and ACL, from the database."""
        import os
        import signal
        import threading
        import time
        from pathlib import Path

        from loa.db import make_engine, session_scope, upgrade
        from station.ops.broker import refresh_broker_files
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        if not settings.mqtt_password:
            typer.echo("Lỗi / error: đặt LOA_MQTT_PASSWORD / set LOA_MQTT_PASSWORD (the station's broker password)",
                       err=True)
            raise typer.Exit(1)
        engine = make_engine(settings.db_url)
        upgrade(engine)
        stop = threading.Event()
        if every > 0:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        try:
            while True:
                with session_scope(engine) as session:
                    changed = refresh_broker_files(session, Path(out), settings.mqtt_username or station_user,
                                                   settings.mqtt_password)
                if changed and hup_pid_file and Path(hup_pid_file).exists():
                    try:
                        os.kill(int(Path(hup_pid_file).read_text().strip()), signal.SIGHUP)
                    except (ValueError, ProcessLookupError, PermissionError) as exc:
                        typer.echo(f"SIGHUP: {exc}", err=True)
                if changed or every <= 0:
                    typer.echo(f"{time.strftime('%H:%M:%S')} {'updated' if changed else 'unchanged'}: {out}", err=True)
                if every <= 0 or stop.wait(every):
                    break
        finally:
            engine.dispose()

    @keys.command("list")
    def keys_list(data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Các khóa (khóa đang dùng có dấu *) / the keys, active one starred."""
        from broadcaster.signing import KeyRing
        from loa.settings import Settings

        ring = KeyRing(Settings.load(data_dir).resolved_data_dir / "keys")
        active = ring.active().key_id
        for key in ring.all_keys():
            typer.echo(f"{'*' if key.key_id == active else ' '} {key.key_id} {key.public_info()['public_key']}")

    @keys.command("rotate")
    def keys_rotate(data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Tạo khóa mới làm khóa ký (khóa cũ giữ lại) / make a new signing key active (old keys are kept).

        Restart the API processes afterwards (one at a time): each signs with the key it loaded at start."""
        from broadcaster.signing import KeyRing
        from loa.settings import Settings

        ring = KeyRing(Settings.load(data_dir).resolved_data_dir / "keys")
        old = ring.active().key_id
        new = ring.rotate().key_id
        typer.echo(f"{old} -> {new}")

    @keys.command("retire")
    def keys_retire(
        key_id: str = typer.Argument(..., help="Khóa cũ cần bỏ / the old key id"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Bỏ một khóa cũ (khi mọi thiết bị đã nhận khóa mới) / drop an old key once every device has the new one."""
        from broadcaster.signing import KeyRing
        from loa.settings import Settings

        ring = KeyRing(Settings.load(data_dir).resolved_data_dir / "keys")
        try:
            ring.retire(key_id)
        except (ValueError, FileNotFoundError) as exc:
            typer.echo(f"Lỗi / error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"retired {key_id}")
