"""Device status from heartbeats (docs/device-protocol.md §6), offline detection and alerts.

Statuses: unenrolled, online, playing, error (the last heartbeat reported a problem), offline (no heartbeat
for `offline_after_s`: three missed beats), revoked. Marking offline is "make it so": running it twice changes
nothing, and an alert is open at most once per (device, kind) thanks to its unique `open_key`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from broadcaster.protocol.wire import parse_time
from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.models import DeviceAlert, DeviceReport
from loa.org.models import Device

# Event codes that are a problem for the cadre (clock_corrected is information only).
PROBLEM_EVENTS = {"manifest_signature_invalid", "manifest_wrong_device", "manifest_expired", "audio_hash_mismatch",
                  "audio_size_mismatch", "disk_full", "download_failed", "sink_failed", "hook_failed",
                  "manifest_replayed", "command_signature_invalid"}
LIVE = ("online", "playing", "error")


def raise_alert(session: Session, device: Device, kind: str, detail: str, now: datetime, once: bool = True) -> bool:
    """Open an alert; with `once`, a second one of the same kind for the device is a no-op while it is open."""
    key = f"{kind}:{device.id}" if once else None
    if key is not None:
        existing = session.exec(select(DeviceAlert).where(DeviceAlert.open_key == key)).first()
        if existing is not None:
            existing.detail = detail[:1000]
            session.add(existing)
            return False
    session.add(DeviceAlert(commune_id=device.commune_id, device_id=device.id, kind=kind, detail=detail[:1000],
                            open_key=key, raised_at=now))
    return True


def resolve_alert(session: Session, device_id: int, kind: str, now: datetime) -> None:
    row = session.exec(select(DeviceAlert).where(DeviceAlert.open_key == f"{kind}:{device_id}")).first()
    if row is not None:
        row.open_key, row.resolved_at = None, now
        session.add(row)


def _time(text: Any) -> datetime | None:
    try:
        return parse_time(str(text)) if text else None
    except ValueError:
        return None


def heartbeat(session: Session, ident: DeviceIdentity, body: dict[str, Any], now: datetime) -> None:
    """Store a heartbeat. Only the fields present change (§6: a device leaves out what did not change since its
    previous heartbeat), so `body` is the request as sent, not filled with defaults."""
    device = session.get(Device, ident.device_id)
    events = [e for e in body.get("events") or [] if isinstance(e, dict)]
    problems = [e for e in events if e.get("code") in PROBLEM_EVENTS]
    report = session.get(DeviceReport, device.id)
    if report is None or report.uid != ident.uid:  # a new identity starts from a clean report
        report = report or DeviceReport(device_id=device.id, uid=ident.uid, received_at=now)
        report.uid, report.clock_offset_s, report.manifest_version, report.playing = ident.uid, 0.0, None, None
        report.cache, report.disk_free_bytes, report.temperature_c, report.uptime_s = {}, None, None, None
        report.hardware, report.local_volume, report.playlog = None, None, {}
    report.received_at = now
    if "clock_offset_s" in body:
        report.clock_offset_s = float(body.get("clock_offset_s") or 0.0)
    if "manifest_version" in body:
        report.manifest_version = body.get("manifest_version")
    for key in ("playing", "disk_free_bytes", "temperature_c", "uptime_s", "local_volume"):
        if key in body:
            setattr(report, key, body.get(key))
    if "cache" in body:
        report.cache = body.get("cache") or {}
    if "playlog" in body:
        report.playlog = body.get("playlog") or {}
    if body.get("applied_seq") is not None:  # §4a: a command is confirmed once this reaches its seq
        report.applied_seq = int(body["applied_seq"])
        from broadcaster.station.seq import at_least

        at_least(session, report.applied_seq)  # a restored database never signs below a device's floor
    if "hardware" in body:
        report.hardware = (body.get("hardware") or None) and str(body["hardware"])[:200]
    session.add(report)
    if device.status == "offline":
        resolve_alert(session, device.id, "offline", now)
    for event in problems:
        raise_alert(session, device, str(event["code"]), f"{event.get('at', '')} {event.get('detail', '')}".strip(), now)
    device.last_seen = now
    device.agent_version = str(body.get("agent_version") or device.agent_version or "")[:64] or None
    device.status = "error" if problems else ("playing" if report.playing else "online")
    session.add(device)


def mark_offline(session: Session, now: datetime, offline_after_s: int, commune_id: int | None = None) -> list[int]:
    """Devices not heard from for `offline_after_s` become offline, with an alert. Returns their ids."""
    cutoff = now - timedelta(seconds=offline_after_s)
    query = select(Device).where(Device.status.in_(LIVE), Device.last_seen < cutoff)
    if commune_id is not None:
        query = query.where(Device.commune_id == commune_id)
    gone = []
    for device in session.exec(query):
        device.status = "offline"
        session.add(device)
        raise_alert(session, device, "offline",
                    f"Không nhận được tín hiệu từ {device.last_seen.isoformat()} / no heartbeat since then", now)
        gone.append(device.id)
    return gone
