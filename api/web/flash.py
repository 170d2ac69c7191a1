"""What happened, said after every save, submit, approve, reject and stop ("flash" messages).

An action redirects to its page (the URL unchanged) and leaves the code of what happened in a short-lived cookie,
`loa_done`; the next page rendered shows the translated message of that code and clears the cookie. A page may also
be linked with `?done=CODE`. Only the codes below mean anything: neither the cookie nor a URL ever carries the
text itself, so nobody can make the station's page say something else by sending a link. Pages of other
features may add codes here (the message id is English, its Vietnamese in the catalog)."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi.responses import RedirectResponse, Response

COOKIE = "loa_done"
COOKIE_MAX_AGE_S = 60  # the redirect is followed at once; a stale code must not greet a later visit


def N_(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


MESSAGES: dict[str, str] = {
    "saved": N_("Saved. The audio is being made; then send it for approval."),
    "edited": N_("The change is saved. Another cadre must approve it again."),
    "submitted": N_("Sent for approval. A cadre will listen to it and approve it."),
    "approved": N_("Approved. It can now be scheduled."),
    "rejected": N_("Rejected. The author sees your reason."),
    "archived": N_("Archived. It will not air any more."),
    "retried": N_("The audio is being made again."),
    "imported": N_("The pack is added to the library as drafts."),
    "schedule_saved": N_("The schedule is saved. The loudspeakers get it at once."),
    "schedule_stopped": N_("The schedule is stopped. Its plays are taken off the loudspeakers."),
    "cancelled": N_("Nothing was changed."),
    "sound_saved": N_("The volume is saved. The loudspeaker gets it at once."),
    "device_added": N_("The loudspeaker cluster is added."),
    "device_enrolled": N_("The box is set up. It gets the timetable in a moment."),
    # the admin's province, district and interchange pages (issue 16)
    "district_created": N_("The district is created. Now put its communes in it and give its staff their roles."),
    "district_saved": N_("The district is saved."),
    "commune_placed": N_("The commune's district is saved."),
    "commune_unplaced": N_("The commune is out of the district."),
    "staff_granted": N_("The role is given. The person sees the bulletins at their next page."),
    "staff_removed": N_("The role is removed."),
    "peer_added": N_("The station is registered. Its messages are now accepted."),
    "peer_saved": N_("The station's details are saved. Its keys stay pinned."),
    "peer_key_added": N_("The new key is pinned. The old one still works until it is retired."),
    "peer_disabled": N_("The station is disabled: its messages are refused and nothing more is sent to it."),
}


def with_done(url: str, code: str) -> str:
    """`url` with `done=code` added (any earlier `done` replaced)."""
    if code not in MESSAGES:
        raise ValueError(f"unknown flash code {code!r}")
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "done"]
    query.append(("done", code))
    return urlunsplit(parts._replace(query=urlencode(query)))


def flash_redirect(url: str, code: str, secure: bool = False) -> RedirectResponse:
    """A 303 to `url` that says `code` on the next page."""
    if code not in MESSAGES:
        raise ValueError(f"unknown flash code {code!r}")
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="lax", secure=secure,
                        path="/")
    return response


def pending_code(query_code: str | None, cookie_code: str | None) -> str | None:
    for code in (query_code, cookie_code):
        if code and code in MESSAGES:
            return code
    return None


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def message_for(code: str | None, gettext: Callable[[str], str]) -> str | None:
    """The translated message of a known code; None for no code or any other text."""
    if not code or code not in MESSAGES:
        return None
    return gettext(MESSAGES[code])


def confirm_context(action: str, question: str, subject: str, detail: str, yes: str, back: str,
                    fields: dict[str, str] | None = None) -> dict:
    """What confirm.html needs: the same form posted again with `confirmed=1` (a destructive action asks first,
    on the server, so it works without JavaScript)."""
    return dict(action=action, question=question, subject=subject, detail=detail, yes=yes, back=back,
                fields=fields or {}, title=question)
