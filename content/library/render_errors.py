"""Why a render failed, in words the author understands, and what fixes it.

A render either fails for good (the input is the problem: retrying gives the same answer) or for now (the
network voice is unreachable: the job retries a bounded number of times, then the item is marked failed with
the same kind of reason). Either way the item ends `failed` with a reason — never "being made…" for ever.
"""
from __future__ import annotations

from dataclasses import dataclass

from content.tts.base import EngineError
from loa.errors import LoaError

# code → what the author can do about it (the web page offers these; the API lists them in render_fixes)
FIXES: dict[str, list[str]] = {
    "empty_text": ["edit_text"],
    "no_voice": ["change_voice"],
    "engine_unavailable": ["retry", "change_voice"],
    "audio_too_short": ["edit_text", "change_voice"],
    "render_failed": ["retry", "edit_text", "change_voice"],
    "render_interrupted": ["retry"],
}

INTERRUPTED_CODE = "render_interrupted"


def interrupted_message(error: str) -> str:
    """The job died without a verdict of its own (its worker stopped during the last attempt, or an unexpected
    error): retrying is the fix. The technical detail stays in the job's last_error."""
    return ("Việc tạo âm thanh bị dừng giữa chừng (máy chủ khởi động lại hoặc gặp lỗi): hãy bấm Làm lại / "
            f"Making the audio stopped midway (the server restarted or hit an error): retry. [{error[:200]}]")


@dataclass(frozen=True)
class RenderFailure:
    code: str
    message: str  # "Vietnamese / English"
    retryable: bool


def fixes_for(code: str | None) -> list[str]:
    return list(FIXES.get(code or "render_failed", FIXES["render_failed"]))


def classify(exc: BaseException) -> RenderFailure:
    """Turn whatever the pipeline raised into a code, a bilingual message and whether to retry."""
    text = str(exc)
    if isinstance(exc, EngineError):
        if exc.code == "empty_text":
            return RenderFailure("empty_text", "Văn bản không có chữ nào đọc được: hãy sửa lại văn bản / "
                                               "The text has nothing that can be read aloud: edit the text", False)
        if exc.code == "no_voice":
            return RenderFailure("no_voice", f"Không có giọng đọc đã chọn: hãy chọn giọng khác. {_vi(text)} / "
                                             f"The chosen voice does not exist: choose another. {_en(text)}", False)
        if exc.retryable:
            return RenderFailure("engine_unavailable",
                                 f"Bộ đọc chưa dùng được lúc này: {_vi(text)} / The voice is not usable now: {_en(text)}",
                                 True)
        return RenderFailure("render_failed", f"Không tạo được âm thanh: {_vi(text)} / Could not make the audio: "
                                              f"{_en(text)}", False)
    if isinstance(exc, ValueError) and "silence" in text:
        return RenderFailure("audio_too_short", "Bộ đọc không tạo ra tiếng nào nghe được: hãy viết thêm chữ hoặc "
                                                "chọn giọng khác / The voice produced nothing audible: write more "
                                                "or choose another voice", False)
    if isinstance(exc, (ValueError, LookupError)):
        return RenderFailure("render_failed", f"Không tạo được âm thanh / Could not make the audio: {text}", False)
    if isinstance(exc, LoaError) and not exc.retryable:  # a permanent member of the error family: the job
        # worker would not retry it either (loa/jobs/worker.py)
        return RenderFailure("render_failed", f"Không tạo được âm thanh: {exc.message_vi} / Could not make the "
                                              f"audio: {exc.message_en}", False)
    # Anything else (a full disk, a crashed encoder) may pass: retried, then reported.
    return RenderFailure("render_failed", f"Lỗi khi tạo âm thanh / Error while making the audio: "
                                          f"{type(exc).__name__}: {text}", True)


def _vi(text: str) -> str:
    return text.partition(" / ")[0]


def _en(text: str) -> str:
    vi, sep, en = text.partition(" / ")
    return en if sep else vi
