"""Enrollment on the device: claim a code a cadre created, or show a code and wait for a cadre to confirm it
(docs/device-protocol.md §2). The reply's station keys are pinned from here on."""
from __future__ import annotations

import os
import platform
import socket
import time
from datetime import datetime, timezone
from typing import Any, Callable

from broadcaster.agent import AGENT_VERSION
from broadcaster.agent.client import StationClient
from broadcaster.agent.errors import AgentError
from broadcaster.agent.state import AgentState
from broadcaster.protocol.wire import b64decode, key_id_for


class EnrollmentError(AgentError, RuntimeError):
    """Enrollment cannot finish (nobody confirmed the code, a key that does not match): permanent, the person
    at the box starts again."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._describe("enrollment_failed", message)


def device_info() -> dict[str, str]:
    return {"agent_version": AGENT_VERSION, "hardware": _hardware(), "hostname": socket.gethostname()}


def _hardware() -> str:
    try:
        return open("/proc/device-tree/model").read().strip("\0\n ")
    except OSError:
        return f"{platform.system()} {platform.machine()}"


def check_credentials(creds: dict[str, Any], expected_key_id: str | None = None) -> None:
    """Refuse a reply that does not give what the device needs, or whose keys do not match their ids."""
    for field in ("device_id", "token", "station_keys"):
        if not creds.get(field):
            raise EnrollmentError(f"Thiếu trường {field} / enrollment reply lacks {field}")
    ids = set()
    for key in creds["station_keys"]:
        raw = b64decode(key["public_key"])
        if key_id_for(raw) != key["key_id"]:
            raise EnrollmentError("Mã khóa không khớp khóa / a station key id does not match its key")
        ids.add(key["key_id"])
    if expected_key_id and expected_key_id not in ids:
        raise EnrollmentError(f"Khóa đài không như mong đợi / station key {expected_key_id} not offered: {sorted(ids)}")


def enroll(data_dir: str | os.PathLike[str], station_url: str, *, code: str | None = None,
           show: Callable[[str], None] = print, expected_key_id: str | None = None,
           client: StationClient | None = None, timeout_s: float = 900.0,
           sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    client = client or StationClient(station_url)
    info = device_info()
    if code:
        creds = client.enroll_claim(code.strip().replace(" ", "").replace("-", ""), info)
    else:
        started = client.enroll_start(info)
        show(f"Mã đăng ký / enrollment code: {started['code']}  (hết hạn / expires {started['expires_at']})")
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() > deadline:
                raise EnrollmentError("Hết thời gian chờ cán bộ xác nhận / nobody confirmed the code in time")
            sleep(float(started.get("poll_interval_s", 5)))
            confirmed = client.enroll_poll(started["enrollment_id"], started["poll_secret"])
            if confirmed is not None:
                creds = confirmed
                break
    check_credentials(creds, expected_key_id)
    creds = {**creds, "station_url": station_url.rstrip("/")}
    state = AgentState(data_dir)
    state.start_new_identity(creds["device_id"], datetime.now(timezone.utc))
    state.save_credentials(creds)
    return creds
