"""`loa interchange …`: this station's identity, and the admin's registration of peers (docs/interchange.md).

Registering is deliberate: the admin reads the other station's `loa interchange identity` (over the phone, on
paper, or from its /api/interchange/v1/identity page after comparing the key id) and pins it here. Nothing is
trusted on first contact."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

import typer

DATA_DIR_HELP = "Thư mục dữ liệu / data directory (default: $LOA_DATA_DIR or ./data)"


def _open(data_dir: Optional[str]):
    from loa.db import make_engine, upgrade
    from loa.settings import Settings

    settings = Settings.load(data_dir)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return settings, engine


def _echo(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))


def register(app: typer.Typer) -> None:
    ic = typer.Typer(help="Trao đổi giữa các đài / interchange between stations", no_args_is_help=True)
    app.add_typer(ic, name="interchange")

    @ic.command("identity")
    def identity_cmd(data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Mã đài và khóa công khai để đài kia ghim / this station's id and public key, for the other side."""
        from broadcaster.interchange import identity

        settings, engine = _open(data_dir)
        _echo(identity.load(settings, engine).public_info())
        engine.dispose()

    @ic.command("peer-add")
    def peer_add(
        station_id: str = typer.Option(..., help="Mã của đài kia / the other station's id"),
        role: str = typer.Option(..., help="upper (đài cấp trên) | lower (đài xã cấp dưới)"),
        url: str = typer.Option(..., help="Địa chỉ của đài kia / its base URL, e.g. https://loa.laocai.gov.vn"),
        public_key: str = typer.Option(..., help="Khóa công khai (base64) / its public key"),
        name: str = typer.Option("", help="Tên hiển thị / display name"),
        communes: str = typer.Option("", help="lower: mã các xã, cách nhau dấu phẩy / its commune codes, comma-separated"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Đăng ký một đài (quản trị viên) / register a peer station (admin)."""
        from broadcaster.interchange import outbox, peers
        from loa.accounts.auth import CLI
        from loa.db import session_scope
        from loa.errors import DomainError

        settings, engine = _open(data_dir)
        now = datetime.now(settings.tz)
        try:
            with session_scope(engine) as s:
                peer = peers.register(s, CLI, station_id=station_id, name=name, role=role, base_url=url,
                                      public_key=public_key, now=now, communes=communes.split(","))
                outbox.ensure_pump(s, now)
                _echo(peers.describe(peer))
        except DomainError as exc:
            typer.echo(f"{exc.message_vi} / {exc.message_en}", err=True)
            raise typer.Exit(1) from exc
        finally:
            engine.dispose()

    @ic.command("peer-key-add")
    def peer_key_add(station_id: str = typer.Argument(...), public_key: str = typer.Argument(...),
                     data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Ghim thêm khóa mới khi đài kia đổi khóa / pin one more key (the peer rotated its key)."""
        from broadcaster.interchange import peers
        from loa.accounts.auth import CLI
        from loa.db import session_scope

        settings, engine = _open(data_dir)
        with session_scope(engine) as s:
            typer.echo(peers.add_key(s, CLI, station_id, public_key, datetime.now(settings.tz)))
        engine.dispose()

    @ic.command("peer-disable")
    def peer_disable(station_id: str = typer.Argument(...),
                     data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Thôi tin một đài / stop trusting a peer (its messages are refused, nothing more is sent)."""
        from broadcaster.interchange import peers
        from loa.accounts.auth import CLI
        from loa.db import session_scope

        settings, engine = _open(data_dir)
        with session_scope(engine) as s:
            peers.disable(s, CLI, station_id, datetime.now(settings.tz))
        engine.dispose()

    @ic.command("outbox")
    def outbox_cmd(data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Hàng đợi gửi theo từng đài / the outbox per peer: messages by status, failures, next attempt."""
        from broadcaster.interchange import outbox
        from loa.db import session_scope

        _, engine = _open(data_dir)
        with session_scope(engine) as s:
            _echo(outbox.summary(s))
        engine.dispose()
