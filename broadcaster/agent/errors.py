"""The village agent's branch of Loa's error family.

On the station every deliberate error derives from `loa.errors.LoaError`. The agent installs alone on a village
box and may import nothing from the server side, so its errors derive from `AgentError` here instead, with the
same four attributes (`code`, `message_vi`, `message_en`, `retryable`: the shape `loa.errors.ErrorFamily` names;
a test holds both branches to it). `retryable` tells the agent's loop whether the next sync may succeed.
"""
from __future__ import annotations


def split_bilingual(message: str) -> tuple[str, str]:
    """A "Tiếng Việt / English" message as its two halves (the whole text twice when there is no " / ")."""
    vi, sep, en = message.partition(" / ")
    return (vi, en) if sep else (message, message)


class AgentError(Exception):
    code = "agent_error"
    message_vi = "Lỗi thiết bị"
    message_en = "Device error"
    retryable = False

    def _describe(self, code: str, message: str, retryable: bool | None = None) -> None:
        self.code = code
        self.message_vi, self.message_en = split_bilingual(message)
        if retryable is not None:
            self.retryable = retryable
