"""A loudspeaker box for the web tests: set up through the real pages and endpoints (the cadre makes a code on
the Loudspeakers page, the box claims it), then reporting with its own token, as `loa agent` does."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from broadcaster.protocol.wire import format_time

DEV = "/api/device/v1"


@dataclass
class Box:
    device_id: int
    token: str

    @property
    def h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def enroll(client, device_id: int, csrf: str) -> Box:
    """The logged-in cadre makes a one-time code for the device; the box claims it with the device endpoint."""
    page = client.post(f"/app/devices/{device_id}/code", data={"csrf": csrf})
    code = re.search(r'id="new-code">.*?<strong[^>]*>(\d{6})</strong>', page.text, re.S).group(1)
    r = client.post(f"{DEV}/enroll/claim", json={"code": code, "agent_version": "0.1.0", "hardware": "test",
                                                  "hostname": f"box-{device_id}"})
    assert r.status_code == 200, r.text
    return Box(device_id, r.json()["token"])


def manifest_entries(client, box: Box, priority: str | None = None) -> list[dict]:
    r = client.get(f"{DEV}/manifest", headers=box.h)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["manifest"]["entries"] if priority is None or e["priority"] == priority]


def beat(client, box: Box, now: datetime, entry: dict | None = None, started: datetime | None = None) -> None:
    """A heartbeat saying what plays (an entry of its manifest, since `started`), or silence."""
    playing = None if entry is None else {"play_id": entry["play_id"], "sha256": entry["sha256"],
                                          "title": entry["title"], "priority": entry["priority"],
                                          "started_at": format_time(started or now)}
    r = client.post(f"{DEV}/heartbeat", json={"sent_at": format_time(now), "manifest_version": None,
                                              "playing": playing}, headers=box.h)
    assert r.status_code == 204, r.text


def play_record(client, box: Box, seq: int, entry: dict, start: datetime | None, end: datetime | None,
                result: str, reason: str | None = None) -> None:
    rec = {"seq": seq, "play_id": entry["play_id"], "sha256": entry["sha256"], "title": entry["title"],
           "priority": entry["priority"], "planned_start": entry["start"],
           "actual_start": start and format_time(start), "actual_end": end and format_time(end), "result": result,
           "reason": reason}
    r = client.post(f"{DEV}/plays", json={"records": [rec]}, headers=box.h)
    assert r.status_code == 200, r.text
