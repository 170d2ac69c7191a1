"""`loa-agent`: run the village agent. The console script of the loa-agent wheel (packaging/agent/), and the
same command as `loa agent` on a station (station/cli/agent_cmds.py hands its arguments to `main`).

The standard library's argparse, not Typer: the wheel a village box installs then needs only `cryptography` and
`paho-mqtt` (Typer would bring click, rich and pydantic onto a Raspberry Pi-class box for one command). The
agent side is imported lazily, after parsing, so `--help` answers at once.

Exit codes: 0 stopped (SIGTERM, Ctrl-C) or enrolled with --enroll-only; 1 enrollment failed; 2 bad arguments or
nothing to play sound with; 3 the station revoked this device.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

DESCRIPTION = "Chạy thiết bị đầu cuối ở thôn / run the village loudspeaker agent."
EPILOG = ("Hướng dẫn cài đặt / installation: docs/agent-install.md. "
          "Mã thoát / exit codes: 0 dừng / stopped, 1 đăng ký lỗi / enrollment failed, "
          "2 tham số sai hoặc thiếu ffmpeg / bad arguments or no ffmpeg, 3 bị thu hồi / revoked.")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's own words are English; the line before says, in Vietnamese, where to look.
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: tham số sai (xem --help) / bad arguments: {message}\n")


def _volume(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: cần số nguyên 0–100 / a whole number 0–100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value}: cần từ 0 đến 100 / must be 0–100")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: cần số nguyên / a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: cần lớn hơn 0 / must be at least 1")
    return value


def build_parser(prog: str = "loa-agent") -> argparse.ArgumentParser:
    from broadcaster.agent import AGENT_VERSION

    p = _Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG, add_help=False)
    p.add_argument("-h", "--help", action="help", help="Hiện hướng dẫn này / show this help")
    p.add_argument("--station", required=True, metavar="URL", help="URL của đài / the station's base URL")
    p.add_argument("--data-dir", required=True, type=Path, metavar="DIR",
                   help="Thư mục dữ liệu / where the agent keeps its state")
    p.add_argument("--enroll-code", metavar="CODE", help="Mã do cán bộ tạo / a cadre's code")
    p.add_argument("--enroll-only", action="store_true", help="Chỉ đăng ký rồi thoát / enroll and exit")
    p.add_argument("--station-key-id", metavar="KEYID", help="Mã khóa đài mong đợi / expected key id")
    p.add_argument("--sink", choices=("alsa", "file"), default="alsa",
                   help="alsa (ffmpeg → ALSA) | file (chỉ ghi lại / record only); mặc định / default: alsa")
    p.add_argument("--ffmpeg", default="auto", metavar="PATH",
                   help="Đường dẫn ffmpeg / ffmpeg binary (auto: ffmpeg của hệ thống, nếu không có thì của gói "
                        "phụ / the system ffmpeg, else the ffmpeg extra); mặc định / default: auto")
    p.add_argument("--alsa-device", default="default", metavar="DEVICE",
                   help="Thiết bị ALSA / ALSA device (hw:1,0 …); mặc định / default: default")
    p.add_argument("--cache-mb", type=_positive, default=2000, metavar="MB",
                   help="Giới hạn bộ nhớ đệm / audio cache limit (MB); mặc định / default: 2000")
    p.add_argument("--volume", type=_volume, default=100, metavar="0-100",
                   help="Âm lượng tại chỗ / local volume; mặc định / default: 100")
    p.add_argument("--hook-before", metavar="CMD", help="Lệnh trước chương trình (bật loa) / run before (speakers on)")
    p.add_argument("--hook-after", metavar="CMD", help="Lệnh sau chương trình (tắt loa) / run after (speakers off)")
    p.add_argument("--relay-retry", type=_positive, default=60, metavar="SECONDS",
                   help="Thử lại luồng tiếp âm bị mất trong bao lâu rồi phát nhạc dự phòng / how long to retry a "
                        "lost relay stream before the fallback plays; mặc định / default: 60")
    p.add_argument("--no-push", action="store_true", help="Không nghe SSE/MQTT / poll only")
    p.add_argument("--version", action="version", version=f"loa-agent {AGENT_VERSION}",
                   help="Phiên bản / show the version")
    return p


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Enroll if needed, then play until stopped. Returns the exit code."""
    import signal
    import threading

    from broadcaster.agent.client import StationError
    from broadcaster.agent.enroll import EnrollmentError, enroll
    from broadcaster.agent.nudges import MqttListener, sse_loop
    from broadcaster.agent.playback import PlaybackUnavailable, alsa_sink, describe, find_ffmpeg
    from broadcaster.agent.runner import Agent
    from broadcaster.agent.sinks import FileSink, Sink
    from broadcaster.agent.state import AgentState
    from broadcaster.agent.watchdog import SystemdNotifier

    data_dir: Path = args.data_dir
    state = AgentState(data_dir)
    if state.credentials() is None or args.enroll_code:
        try:
            creds = enroll(data_dir, args.station, code=args.enroll_code, expected_key_id=args.station_key_id,
                           show=lambda line: print(line, flush=True))
        except (EnrollmentError, StationError) as exc:
            _err(f"Đăng ký không được / enrollment failed: {exc}")
            return 1
        print(f"Đã đăng ký / enrolled as {creds['device_id']} (thôn / village {creds.get('village_id')})", flush=True)
    if args.enroll_only:
        return 0
    chosen: Sink
    if args.sink == "file":
        # Records what would have sounded, and keeps a copy of each played file to listen to later.
        chosen = FileSink(data_dir / "sink.jsonl", copy_dir=data_dir / "played")
    else:
        try:
            chosen = alsa_sink(find_ffmpeg(args.ffmpeg), args.alsa_device)
        except PlaybackUnavailable as exc:
            _err(str(exc))
            return 2
        # Which ffmpeg and which output, in the journal: the first thing to know when a loudspeaker is silent.
        print(f"Phát qua / playing through: {describe(chosen)}", flush=True)
    runner = Agent(data_dir, chosen, cache_limit=args.cache_mb * 1024 * 1024, local_volume=args.volume,
                   hook_before=shlex.split(args.hook_before) if args.hook_before else None,
                   hook_after=shlex.split(args.hook_after) if args.hook_after else None,
                   relay_retry_s=float(args.relay_retry))
    stop = threading.Event()
    mqtt = None
    if not args.no_push:
        conf = runner.creds.get("mqtt")
        if conf:
            mqtt = MqttListener(conf["url"], conf["username"], runner.creds["token"], conf["topics"],
                                runner.on_nudge, on_command=runner.on_command,
                                on_connect=runner.on_push_connected)
            mqtt.start()
        else:
            threading.Thread(target=sse_loop, args=(runner.client, runner.on_nudge, stop),
                             kwargs={"on_command": runner.on_command, "on_connect": runner.on_push_connected},
                             daemon=True).start()
    systemd = SystemdNotifier()  # deploy/loa-agent.service: Type=notify with a watchdog

    asked: list[int] = []  # the stop signals received so far

    def wake_everyone() -> None:
        stop.set()
        runner.nudge.set()
        runner.wake.set()
        runner.player.wake.set()

    def on_stop_signal(signum: int, frame: object) -> None:
        # `systemctl stop` sends SIGTERM, Ctrl+C at the console SIGINT: end the loop, so that the player stops its
        # sound and logs the play it cut (the station hears what aired), and STOPPING=1 goes out. Raised as
        # KeyboardInterrupt, SIGINT left the loop without waiting for the player: a sound that got no signal of
        # its own played on, and the cut play was never logged. A second Ctrl+C does not wait.
        if signum == signal.SIGINT and asked:
            raise KeyboardInterrupt
        asked.append(signum)
        # Set from another thread: this handler runs in the main thread between two of its steps, possibly
        # inside one of these events' own wait, whose lock it would then wait for forever.
        threading.Thread(target=wake_everyone, name="loa-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # started with it ignored (a background job): keep
        signal.signal(signal.SIGINT, on_stop_signal)
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
        _err("Thiết bị đã bị thu hồi / this device was revoked")
        return 3
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "loa-agent") -> NoReturn:
    """`loa-agent [options]` (argv from the command line), or `loa agent [options]` (argv handed over)."""
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else list(argv))
    raise SystemExit(run(args))


if __name__ == "__main__":
    main()
