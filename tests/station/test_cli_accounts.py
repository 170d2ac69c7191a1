"""`loa admin passwd|disable|enable` (issue 14) on a real SQLite station dir: the password read from stdin or asked
twice, every session and token of the account ended, disabled accounts refused at login, all audited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from typer.testing import CliRunner

from loa.db import make_engine

PW = "mat-khau-rat-dai"
NEW = "song-nam-rong-lam"


def _station(tmp_path):
    from station.cli.main import app

    runner = CliRunner()
    data = tmp_path / "station"
    for name in ("chu-tich", "can-bo"):
        r = runner.invoke(app, ["admin", "create", name, "--password", PW, "--data-dir", str(data)])
        assert r.exit_code == 0, r.output
    return app, runner, data


def _token(data, username: str) -> int:
    from loa.accounts import auth
    from loa.accounts.models import User
    from loa.accounts.service import user_by_name
    from loa.db import session_scope

    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    with session_scope(engine) as s:
        user = user_by_name(s, username)
        token, _ = auth.issue_token(s, s.get(User, user.id), auth.BEARER, datetime.now(timezone.utc),
                                    timedelta(days=1))
        token_id = token.id
    engine.dispose()
    return token_id


def _query(data, sql: str):
    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql)).all()
    engine.dispose()
    return rows


def _login_ok(data, username: str, password: str) -> str:
    from loa.accounts import auth
    from loa.db import session_scope
    from loa.errors import DomainError

    engine = make_engine(f"sqlite:///{data / 'loa.db'}")
    try:
        with session_scope(engine) as s:
            auth.authenticate(s, username, password, "127.0.0.1", datetime.now(timezone.utc))
        return "ok"
    except DomainError as exc:
        return exc.code
    finally:
        engine.dispose()


def test_passwd_from_stdin_and_prompt_ends_sessions(tmp_path):
    app, runner, data = _station(tmp_path)
    token_id = _token(data, "can-bo")
    r = runner.invoke(app, ["admin", "passwd", "can-bo", "--data-dir", str(data)], input=NEW + "\n")
    assert r.exit_code == 0, r.output
    assert _login_ok(data, "can-bo", NEW) == "ok" and _login_ok(data, "can-bo", PW) == "bad_credentials"
    assert _query(data, f"SELECT revoked_at FROM auth_tokens WHERE id = {token_id}")[0][0] is not None
    weak = runner.invoke(app, ["admin", "passwd", "can-bo", "--data-dir", str(data)], input="short\n")
    assert weak.exit_code == 1 and "password_too_short" in weak.output
    empty = runner.invoke(app, ["admin", "passwd", "can-bo", "--data-dir", str(data)], input="")
    assert empty.exit_code == 1
    unknown = runner.invoke(app, ["admin", "passwd", "khong-co", "--data-dir", str(data)], input=NEW + "\n")
    assert unknown.exit_code == 1 and "user_not_found" in unknown.output
    assert ("user.password_set",) in _query(data, "SELECT action FROM audit_log")


def test_passwd_prompts_twice_on_a_terminal(tmp_path, monkeypatch):
    app, runner, data = _station(tmp_path)
    monkeypatch.setattr("station.cli.server_cmds.stdin_is_terminal", lambda: True)
    # the two answers differ at first: asked again, then the matching pair is taken
    r = runner.invoke(app, ["admin", "passwd", "chu-tich", "--data-dir", str(data)],
                      input=f"{NEW}\n{NEW}x\n{NEW}\n{NEW}\n")
    assert r.exit_code == 0, r.output
    assert r.output.count("Mật khẩu mới") >= 2 and "do not match" in r.output
    assert NEW not in r.output  # hidden
    assert _login_ok(data, "chu-tich", NEW) == "ok"


def test_disable_and_enable(tmp_path):
    app, runner, data = _station(tmp_path)  # two admins: chu-tich and can-bo
    token_id = _token(data, "can-bo")
    r = runner.invoke(app, ["admin", "disable", "can-bo", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert _query(data, f"SELECT revoked_at FROM auth_tokens WHERE id = {token_id}")[0][0] is not None
    assert _login_ok(data, "can-bo", PW) == "account_disabled"
    last = runner.invoke(app, ["admin", "disable", "chu-tich", "--data-dir", str(data)])
    assert last.exit_code == 1 and "last_admin" in last.output
    assert _login_ok(data, "chu-tich", PW) == "ok"
    r = runner.invoke(app, ["admin", "enable", "can-bo", "--data-dir", str(data)])
    assert r.exit_code == 0, r.output
    assert _login_ok(data, "can-bo", PW) == "ok"
    assert runner.invoke(app, ["admin", "enable", "khong-co", "--data-dir", str(data)]).exit_code == 1
    actions = [a for (a,) in _query(data, "SELECT action FROM audit_log")]
    assert actions.count("user.disable") == 1 and actions.count("user.enable") == 1
