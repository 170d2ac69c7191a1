"""`loa agent`: run the village agent. Registered on the `loa` Typer app by loa/cli/main.py, and alone as
`loa-agent` (`main`, the console script of the loa-agent wheel: packaging/agent/).

Imports only the agent side, lazily, so a village box needs neither the server nor its dependencies.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("agent")
    def agent(
        station: str = typer.Option(..., "--station", help="URL của đài / the station's base URL"),
        data_dir: Path = typer.Option(..., "--data-dir", help="Thư mục dữ liệu / where the agent keeps its state"),
        enroll_code: Optional[str] = typer.Option(None, "--enroll-code", help="Mã do cán bộ tạo / a cadre's code"),
        enroll_only: bool = typer.Option(False, "--enroll-only", help="Chỉ đăng ký rồi thoát / enroll and exit"),
        station_key_id: Optional[str] = typer.Option(None, "--station-key-id", help="Mã khóa đài mong đợi / expected key id"),
        sink: str = typer.Option("alsa", "--sink", help="alsa (ffmpeg → ALSA) | file (record only)"),
        ffmpeg: str = typer.Option("auto", "--ffmpeg",
                                   help="Đường dẫn ffmpeg / ffmpeg binary (auto: the system ffmpeg, else the ffmpeg extra)"),
        alsa_device: str = typer.Option("default", "--alsa-device"),
        cache_mb: int = typer.Option(2000, "--cache-mb", help="Giới hạn bộ nhớ đệm / audio cache limit (MB)"),
        volume: int = typer.Option(100, "--volume", min=0, max=100, help="Âm lượng tại chỗ / local volume"),
        hook_before: Optional[str] = typer.Option(None, "--hook-before", help="Lệnh trước chương trình (bật loa)"),
        hook_after: Optional[str] = typer.Option(None, "--hook-after", help="Lệnh sau chương trình (tắt loa)"),
        no_push: bool = typer.Option(False, "--no-push", help="Không nghe SSE/MQTT / poll only"),
    ) -> None:
        """Chạy thiết bị đầu cuối ở thôn / run the village loudspeaker agent."""
        import signal
        import threading

        from broadcaster.agent.enroll import enroll
        from broadcaster.agent.nudges import MqttListener, sse_loop
        from broadcaster.agent.runner import Agent
        from broadcaster.agent.playback import PlaybackUnavailable, alsa_sink, find_ffmpeg
        from broadcaster.agent.sinks import FileSink
        from broadcaster.agent.state import AgentState
        from broadcaster.agent.watchdog import SystemdNotifier

        state = AgentState(data_dir)
        if state.credentials() is None or enroll_code:
            creds = enroll(data_dir, station, code=enroll_code, expected_key_id=station_key_id,
                           show=lambda line: typer.echo(line))
            typer.echo(f"Đã đăng ký / enrolled as {creds['device_id']} (thôn / village {creds.get('village_id')})")
        if enroll_only:
            return
        if sink == "file":
            # Records what would have sounded, and keeps a copy of each played file to listen to later.
            chosen = FileSink(data_dir / "sink.jsonl", copy_dir=data_dir / "played")
        elif sink == "alsa":
            try:
                chosen = alsa_sink(find_ffmpeg(ffmpeg), alsa_device)
            except PlaybackUnavailable as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(2) from None
        else:
            raise typer.BadParameter("--sink: alsa | file")
        runner = Agent(data_dir, chosen, cache_limit=cache_mb * 1024 * 1024, local_volume=volume,
                       hook_before=shlex.split(hook_before) if hook_before else None,
                       hook_after=shlex.split(hook_after) if hook_after else None)
        stop = threading.Event()
        mqtt = None
        if not no_push:
            conf = runner.creds.get("mqtt")
            if conf:
                mqtt = MqttListener(conf["url"], conf["username"], runner.creds["token"], conf["topics"],
                                    runner.on_nudge, on_command=runner.on_command)
                mqtt.start()
            else:
                threading.Thread(target=sse_loop, args=(runner.client, runner.on_nudge, stop),
                                 kwargs={"on_command": runner.on_command}, daemon=True).start()
        systemd = SystemdNotifier()  # deploy/loa-agent.service: Type=notify with a watchdog

        def on_sigterm(signum: int, frame: object) -> None:
            # `systemctl stop` sends SIGTERM: end the loop so the player stops its sound and STOPPING=1 goes out
            stop.set()
            runner.nudge.set()
            runner.wake.set()

        signal.signal(signal.SIGTERM, on_sigterm)
        systemd.ready(f"device {runner.creds['device_id']}")
        try:
            runner.run(stop, watchdog=systemd.ping)
        except KeyboardInterrupt:
            stop.set()
        finally:
            systemd.stopping()
            if mqtt:
                mqtt.stop()
        if runner.revoked:
            typer.echo("Thiết bị đã bị thu hồi / this device was revoked", err=True)
            raise typer.Exit(3)


def main() -> None:
    """`loa-agent`: the same command as `loa agent`, for a box that installed only the loa-agent wheel."""
    app = typer.Typer(add_completion=False, help="Loa: thiết bị đầu cuối ở thôn / the village loudspeaker agent")
    register(app)
    app()
