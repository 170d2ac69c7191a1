"""Keeping Mosquitto's password file and ACL in step with the database (`loa broker-files`).

The files are rewritten only when their text changes, so the broker is sent SIGHUP only then. Writing goes
through broadcaster.station.push.acl (temp file + rename: the broker never reads half a file)."""
from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from broadcaster.station.push import acl


def refresh_broker_files(session: Session, directory: Path, station_user: str, station_password: str) -> bool:
    """Write loa.acl and loa.passwd into `directory` if the devices changed; True if anything was written.

    The password file holds salted hashes, so its text differs at each generation even when nothing changed:
    compare the ACL and the set of users instead, and keep the station's own hash once written."""
    directory.mkdir(parents=True, exist_ok=True)
    acl_path, passwd_path = directory / "loa.acl", directory / "loa.passwd"
    new_acl = acl.acl_text(session, station_user)
    new_users = _device_lines(acl.passwd_text(session, station_user, station_password), station_user)
    if acl_path.exists() and passwd_path.exists():
        old_users = _device_lines(passwd_path.read_text("utf-8"), station_user)
        if acl_path.read_text("utf-8") == new_acl and old_users == new_users:
            return False
    acl.write_broker_files(session, directory, station_user, station_password)
    return True


def _device_lines(text: str, station_user: str) -> list[str]:
    """Every line but the station's (whose hash is salted afresh each time)."""
    return [line for line in text.splitlines() if line and not line.startswith(f"{station_user}:")]
