"""`loa serve`, `loa admin create|passwd|disable|enable` and `loa db upgrade`. The server side is imported inside
each command, so `loa agent` on a village box never loads FastAPI or SQLAlchemy."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import typer

DATA_DIR_HELP = "Thư mục dữ liệu / data directory (default: $LOA_DATA_DIR or ./data)"


# Seconds a stopping server gives requests in flight (an upload, a manifest) before it closes what is left.
GRACEFUL_STOP_S = 5


def uvicorn_options(settings) -> dict:
    """What `loa serve` and `loa demo` both give uvicorn: the keep-alive setting (LOA_HTTP_KEEP_ALIVE_S), and
    no proxy-header rewrite of the client address: api/limits.py `client_address` reads X-Forwarded-For, and
    only from LOA_TRUSTED_PROXIES (uvicorn would believe it from 127.0.0.1, or from anyone with
    FORWARDED_ALLOW_IPS=*). And a limit on the graceful stop: every loudspeaker holds an event stream open that
    never ends by itself, so without one uvicorn waits on SIGTERM until it is killed (`docker stop` after 10 s,
    systemd after 90 s) and the job worker never shuts down cleanly."""
    return {"timeout_keep_alive": settings.http_keep_alive_s, "proxy_headers": False,
            "timeout_graceful_shutdown": GRACEFUL_STOP_S}


def stdin_is_terminal() -> bool:
    """A person at a terminal is asked twice (hidden); a script pipes the password in."""
    import sys

    return sys.stdin.isatty()


def register(app: typer.Typer) -> None:
    admin = typer.Typer(help="Tài khoản / accounts", no_args_is_help=True)
    db = typer.Typer(help="Cơ sở dữ liệu / database", no_args_is_help=True)
    app.add_typer(admin, name="admin")
    app.add_typer(db, name="db")

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Địa chỉ lắng nghe / listen address"),
        port: int = typer.Option(8000, help="Cổng / port"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Chạy máy chủ đài / run the station server (SQLite + audio in the data dir, worker in-process)."""
        import uvicorn

        from api.app import create_app
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        typer.echo(f"Loa: {settings.resolved_data_dir} · http://{host}:{port}/docs", err=True)
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                    **uvicorn_options(settings))

    @admin.command("create")
    def admin_create(
        username: str = typer.Argument(..., help="Tên đăng nhập / username"),
        password: Optional[str] = typer.Option(None, help="Mật khẩu (bỏ trống để nhập ẩn) / password (prompted)"),
        role: str = typer.Option("admin", help="admin | cadre | secretary | village_head"),
        commune: Optional[int] = typer.Option(None, help="Mã xã cho vai trò của xã / commune id for commune roles"),
        village: Optional[int] = typer.Option(None, help="Mã thôn cho trưởng thôn / village id for a village head"),
        display_name: str = typer.Option("", help="Tên hiển thị / display name"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Tạo tài khoản / create an account (the first admin comes from here or the setup token)."""
        from loa.accounts.auth import CLI
        from loa.accounts.service import add_membership, create_user
        from loa.db import make_engine, session_scope, upgrade
        from loa.errors import DomainError
        from loa.settings import Settings

        if role not in ("admin", "cadre", "secretary", "village_head"):
            raise typer.BadParameter("role: admin | cadre | secretary | village_head")
        if role != "admin" and commune is None:
            raise typer.BadParameter("--commune is needed for a commune role / cần --commune")
        if password is None:
            password = typer.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)
        settings = Settings.load(data_dir)
        engine = make_engine(settings.db_url)
        try:
            upgrade(engine)
            now = datetime.now(settings.tz)
            with session_scope(engine) as session:
                user = create_user(session, CLI, username, password, now, display_name, is_admin=(role == "admin"))
                if role != "admin":
                    add_membership(session, CLI, user.id, commune, role, now, village)
                user_id = user.id
        except DomainError as exc:
            typer.echo(f"Lỗi / error [{exc.code}]: {exc.message_vi} / {exc.message_en}", err=True)
            raise typer.Exit(1) from None
        finally:
            engine.dispose()
        typer.echo(f"Đã tạo / created: {username} (id {user_id}, {role})")

    def _account_action(data_dir: Optional[str], username: str, action) -> str:
        """Run `action(session, user_id, now)` on the named account as the shell (CLI principal), with the same
        rules and audit as the web pages; a domain error prints its code and both messages and exits 1."""
        from loa.accounts.service import user_by_name
        from loa.db import make_engine, session_scope, upgrade
        from loa.errors import DomainError
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        engine = make_engine(settings.db_url)
        try:
            upgrade(engine)
            with session_scope(engine) as session:
                user = user_by_name(session, username)
                action(session, user.id, datetime.now(settings.tz))
                return user.username
        except DomainError as exc:
            typer.echo(f"Lỗi / error [{exc.code}]: {exc.message_vi} / {exc.message_en}", err=True)
            raise typer.Exit(1) from None
        finally:
            engine.dispose()

    def _set_active(data_dir: Optional[str], username: str, active: bool) -> str:
        from loa.accounts.auth import CLI
        from loa.accounts.service import set_active

        return _account_action(data_dir, username, lambda s, user_id, now: set_active(s, CLI, user_id, active, now))

    @admin.command("passwd")
    def admin_passwd(
        username: str = typer.Argument(..., help="Tên đăng nhập / username"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Đặt mật khẩu mới / set a new password (asked twice; read from stdin when it is not a terminal).
        Every session and token of the account ends."""
        import sys

        from loa.accounts.auth import CLI
        from loa.accounts.service import set_password

        if stdin_is_terminal():
            password = typer.prompt("Mật khẩu mới / new password", hide_input=True, confirmation_prompt=True)
        else:  # a script: `echo "$PW" | loa admin passwd chu-tich`
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                typer.echo("Lỗi / error: không có mật khẩu trên stdin / no password on stdin", err=True)
                raise typer.Exit(1)
        name = _account_action(data_dir, username,
                               lambda s, user_id, now: set_password(s, CLI, user_id, password, now))
        typer.echo(f"Đã đổi mật khẩu / password changed: {name}")

    @admin.command("disable")
    def admin_disable(
        username: str = typer.Argument(..., help="Tên đăng nhập / username"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Khoá tài khoản / disable an account: its sessions and tokens end at once, login is refused."""
        name = _set_active(data_dir, username, False)
        typer.echo(f"Đã khoá / disabled: {name}")

    @admin.command("enable")
    def admin_enable(
        username: str = typer.Argument(..., help="Tên đăng nhập / username"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    ) -> None:
        """Mở khoá tài khoản / enable a disabled account again."""
        name = _set_active(data_dir, username, True)
        typer.echo(f"Đã mở khoá / enabled: {name}")

    @db.command("upgrade")
    def db_upgrade(data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Nâng cấp lược đồ / apply database migrations (also done at every server start)."""
        from loa.db import make_engine, upgrade
        from loa.settings import Settings

        settings = Settings.load(data_dir)
        engine = make_engine(settings.db_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        typer.echo(f"OK: {engine.url.render_as_string(hide_password=True)}")
