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
