"""What the cadre sees of devices: status with the last report, alerts, proof-of-play history. Scoped by the
principal (village heads see their own village only; other communes are 404)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlmodel import Session, col, func, select

from broadcaster.station.airtruth import Heard, now_state
from broadcaster.station.models import DeviceAlert, DeviceCredential, DeviceManifestRow, DeviceReport
from broadcaster.station.stored import stored_id
from loa.accounts.principal import Principal
from loa.org import service as org
from loa.org.models import Device


def _visible(actor: Principal, device: Device) -> bool:
    if actor.is_admin:
        return True
    if not actor.sees_commune(device.commune_id):
        return False
    if actor.role_in(device.commune_id) == "village_head":
        return device.village_id == actor.village_in(device.commune_id)
    return True


class DeviceStatusRow(TypedDict):
    """One device in `status_rows` (the API's `DeviceStatusOut`, the devices page)."""
    id: int
    commune_id: int
    village_id: int | None
    name: str
    identity: str | None
    status: str
    last_seen: datetime | None
    enrolled_at: datetime | None
    agent_version: str | None
    volume: int
    muted: bool
    now_playing: dict[str, Any] | None
    cache: dict[str, Any] | None
    disk_free_bytes: int | None
    clock_offset_s: float | None
    temperature_c: float | None
    manifest_version: str | None
    reported_manifest_version: str | None
    open_alerts: int
    reported_at: datetime | None
    last_reported_playing: dict[str, Any] | None
    report_age_s: float | None
    report_old: bool
    out_of_contact: bool


def status_rows(session: Session, devices: list[Device], now: datetime | None = None,
                offline_after_s: float = 900) -> list[DeviceStatusRow]:
    """Each device as its own last report describes it. With `now`, also how old that report is (`report_age_s`,
    `report_old` when a heartbeat should have come since): a status is only as fresh as its report."""
    ids = [stored_id(d) for d in devices]
    if not ids:
        return []
    reports = {r.device_id: r for r in session.exec(select(DeviceReport).where(col(DeviceReport.device_id).in_(ids)))}
    uids = dict(session.exec(select(DeviceCredential.device_id, DeviceCredential.uid).where(
        col(DeviceCredential.device_id).in_(ids), col(DeviceCredential.revoked_at).is_(None))).all())
    versions = dict(session.exec(select(DeviceManifestRow.device_id, DeviceManifestRow.version).where(
        col(DeviceManifestRow.device_id).in_(ids))).all())
    alerts = dict(session.exec(select(DeviceAlert.device_id, func.count()).where(
        col(DeviceAlert.device_id).in_(ids), col(DeviceAlert.open_key).is_not(None))
        .group_by(col(DeviceAlert.device_id))).all())
    out: list[DeviceStatusRow] = []
    for device_id, d in zip(ids, devices):
        r = reports.get(device_id)
        live = d.status in ("online", "playing", "error")
        state = now_state(Heard(r.received_at, r.playing) if r else None, now, offline_after_s) if now else None
        out.append({
            "id": device_id, "commune_id": d.commune_id, "village_id": d.village_id, "name": d.name,
            "identity": uids.get(device_id), "status": d.status, "last_seen": d.last_seen, "enrolled_at": d.enrolled_at,
            "agent_version": d.agent_version, "volume": d.volume, "muted": d.muted,
            "now_playing": r.playing if r and live else None, "cache": r.cache if r else None,
            "disk_free_bytes": r.disk_free_bytes if r else None, "clock_offset_s": r.clock_offset_s if r else None,
            "temperature_c": r.temperature_c if r else None, "manifest_version": versions.get(device_id),
            "reported_manifest_version": r.manifest_version if r else None, "open_alerts": int(alerts.get(device_id, 0)),
            "reported_at": r.received_at if r else None, "last_reported_playing": r.playing if r else None,
            "report_age_s": state.age_s if state else None, "report_old": bool(state and state.old),
            "out_of_contact": bool(state and state.out_of_contact and r is not None),
        })
    return out


def commune_devices(session: Session, actor: Principal, commune_id: int) -> list[Device]:
    return [d for d in org.list_devices(session, actor, commune_id) if _visible(actor, d)]


def alerts(session: Session, actor: Principal, commune_id: int, open_only: bool, since: datetime | None,
           limit: int = 200) -> list[DeviceAlert]:
    org.get_commune(session, actor, commune_id)
    visible = {d.id for d in commune_devices(session, actor, commune_id)}
    query = select(DeviceAlert).where(DeviceAlert.commune_id == commune_id)
    if open_only:
        query = query.where(col(DeviceAlert.open_key).is_not(None))
    if since is not None:
        query = query.where(DeviceAlert.raised_at >= since)
    rows = session.exec(query.order_by(col(DeviceAlert.raised_at).desc(), col(DeviceAlert.id).desc()).limit(limit))
    return [a for a in rows if a.device_id in visible]
