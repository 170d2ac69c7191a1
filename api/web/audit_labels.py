"""Words for the audit trail page: an entry's action code ("village.update") and object type ("village") said in
the page's language. Unknown codes (a new action somewhere) are shown as they are rather than hidden."""
from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:  # marks a message id for extraction (api/i18n/update.py); translated at render
    return message


OBJECTS = {
    "commune": N_("Commune"), "province": N_("Province"), "village": N_("Village"), "device": N_("Loudspeaker"),
    "enrollment": N_("Box setup"), "user": N_("User"), "token": N_("Login key"), "content": N_("Announcement"),
    "schedule": N_("Schedule"), "emergency": N_("Emergency"), "cap_alert": N_("CAP alert"),
    "district": N_("District"),  # issue 16: made and renamed on /app/admin/provinces
}

VERBS = {
    "create": N_("created"), "update": N_("changed"), "delete": N_("deleted"), "settings": N_("settings changed"),
    "submit": N_("submitted"), "approve": N_("approved"), "reject": N_("rejected"), "archive": N_("archived"),
    "cancel": N_("stopped"), "confirm": N_("confirmed"), "start": N_("started"), "ingest": N_("received"),
    "login": N_("logged in"), "login_failed": N_("failed login"), "revoke": N_("revoked"),
    "token_create": N_("login key made"), "sound": N_("volume changed"), "enroll_code": N_("setup code made"),
    "enroll_confirm": N_("setup confirmed"), "enroll_reject": N_("setup refused"), "enroll_start": N_("setup begun"),
    "enrolled": N_("set up"), "reenrolled": N_("set up again"), "enroll_claim_failed": N_("setup failed"),
    "enroll_rate_limited": N_("setup attempts limited"), "render_retry": N_("rendering retried"),
    "set": N_("role given"), "remove": N_("role removed"), "complete": N_("first setup done"),
    "disable": N_("disabled"), "enable": N_("enabled"), "password": N_("password changed"),
    "reset_password": N_("password reset"), "password_reset": N_("password reset"),
    "place": N_("district changed"),
}

SUBJECTS = {
    "auth": N_("Login"), "cap": N_("CAP alert"), "station": N_("Station"), "membership": N_("Role"),
    "setup": N_("Station"), **OBJECTS,
}


def action_label(code: str, _: Callable[[str], str]) -> str:
    subject, _sep, verb = code.partition(".")
    if subject in SUBJECTS and verb in VERBS:
        return f"{_(SUBJECTS[subject])}: {_(VERBS[verb])}"
    return code


def object_label(code: str, _: Callable[[str], str]) -> str:
    return _(OBJECTS[code]) if code in OBJECTS else code


FIELDS = {
    "name": N_("Name"), "latitude": N_("Latitude"), "longitude": N_("Longitude"), "geocodes": N_("CAP geocodes"),
    "default_language": N_("Default language"), "village_id": N_("Village"), "timezone": N_("Time zone"),
    "code": N_("Code"), "province_id": N_("Province"), "quiet_start": N_("Quiet hours from"),
    "quiet_end": N_("Quiet hours to"), "max_programme_s": N_("Longest programme (s)"),
    "default_max_delay_s": N_("Longest delay (s)"), "emergency_max_s": N_("Longest emergency (s)"),
    "auto_air_extreme_immediate": N_("CAP auto-air"), "volume": N_("Volume"), "muted": N_("Muted"),
    "title": N_("Title"), "reason": N_("Reason"), "role": N_("Role"), "username": N_("User name"),
    "status": N_("Status"), "previous_status": N_("Previous status"), "priority": N_("Priority"),
}


# Recorded enum values said in words (a raw "normal" or "submitted" is English on a Vietnamese page).
VALUES = {
    "status": {"draft": N_("Draft"), "submitted": N_("Waiting for approval"), "approved": N_("Approved"),
               "rejected": N_("Rejected"), "archived": N_("Archived")},
    "priority": {"fallback": N_("Filler"), "normal": N_("Normal"), "priority": N_("Priority"),
                 "emergency": N_("Emergency")},
}
VALUES["previous_status"] = VALUES["status"]


def _field_value(field: str, value: object, _: Callable[[str], str]) -> str:
    words = VALUES.get(field, {})
    if isinstance(value, str) and value in words:
        return _(words[value])
    return _value(value, _)


def _value(value: object, _: Callable[[str], str]) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def describe(detail: dict, _: Callable[[str], str]) -> str:
    """An entry's detail in words: "Longitude: 103.9187 → 103.9; Name: Ún Tà". Known fields are named in the
    page's language; others keep their key, so nothing recorded is hidden."""
    parts = []
    for key, value in (detail or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, change in value.items():
                label = _(FIELDS[field]) if field in FIELDS else field
                if isinstance(change, list) and len(change) == 2:
                    parts.append(f"{label}: {_field_value(field, change[0], _)} → {_field_value(field, change[1], _)}")
                else:
                    parts.append(f"{label}: {_field_value(field, change, _)}")
        else:
            parts.append(f"{_(FIELDS[key]) if key in FIELDS else key}: {_field_value(key, value, _)}")
    return "; ".join(parts)
