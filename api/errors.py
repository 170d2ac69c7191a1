"""Every error as application/problem+json (RFC 9457) with a stable code, Vietnamese first, English available.

{type, title, status, detail, code, retryable, message_vi, message_en} — `title` and `detail` follow
Accept-Language (Vietnamese unless the client prefers English); message_vi and message_en are always both present.
Every member of the error family (loa.errors.LoaError: TTS, ingest, store, schedule and request errors) goes
through the one handler below, with the family's stable code and whether trying again later can help."""
from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from loa.errors import LoaError, RateLimited

PROBLEM = "application/problem+json"

TITLES: dict[int, tuple[str, str]] = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    401: ("Chưa đăng nhập", "Not authenticated"),
    403: ("Không có quyền", "Forbidden"),
    404: ("Không tìm thấy", "Not found"),
    405: ("Phương thức không được phép", "Method not allowed"),
    409: ("Xung đột trạng thái", "Conflict"),
    413: ("Tệp quá lớn", "Payload too large"),
    415: ("Loại tệp không được nhận", "Unsupported media type"),
    416: ("Khoảng byte không hợp lệ", "Range not satisfiable"),
    422: ("Dữ liệu không hợp lệ", "Unprocessable content"),
    429: ("Quá nhiều yêu cầu", "Too many requests"),
    500: ("Lỗi máy chủ", "Internal server error"),
    503: ("Tạm thời chưa dùng được", "Service unavailable"),
}


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    type: str = Field(description="URI naming the problem: urn:loa:problem:<code>")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine code, e.g. content_not_found, self_review, too_large")
    retryable: bool = Field(False, description="True when the same request may succeed later (busy, offline)")
    message_vi: str
    message_en: str
    errors: list[FieldError] | None = None


def wants_english(request: Request) -> bool:
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].split(";")[0].strip().lower()
    return first.startswith("en")


def problem_response(request: Request, status: int, code: str, vi: str, en: str,
                     headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
                     retryable: bool = False) -> JSONResponse:
    extra = extra or {}
    english = wants_english(request)
    title_vi, title_en = TITLES.get(status, ("Lỗi", "Error"))
    body = {"type": f"urn:loa:problem:{code}", "title": title_en if english else title_vi, "status": status,
            "detail": en if english else vi, "code": code, "retryable": retryable, "message_vi": vi,
            "message_en": en}
    body.update({k: v for k, v in extra.items() if v is not None and k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry for a route's error statuses, all typed as Problem."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        title_vi, title_en = TITLES.get(status, ("Lỗi", "Error"))
        out[status] = {"model": Problem, "description": f"{title_vi} / {title_en}",
                       "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(LoaError)
    async def family_error(request: Request, exc: LoaError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="loa"'}
        extra = {k: v for k, v in exc.extra.items() if isinstance(v, (str, int, float, list, bool))}
        return problem_response(request, exc.status, exc.code, exc.message_vi, exc.message_en, headers, extra,
                                exc.retryable)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                   "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in exc.errors()]
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:] or e["loc"]) for e in errors[:5])
        return problem_response(request, 422, "validation_error", f"Dữ liệu không hợp lệ: {fields}",
                                f"Invalid input: {fields}", extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title_vi, title_en = TITLES.get(exc.status_code, ("Lỗi", "Error"))
        code = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}.get(exc.status_code, "http_error")
        if wants_page(request):  # a person at a browser: a page in their language, not JSON
            vi, en = PAGE_MESSAGES.get(exc.status_code, (title_vi, title_en))
            return html_error(request, exc.status_code, code, vi, en, dict(exc.headers or {}) or None)
        return problem_response(request, exc.status_code, code, title_vi, title_en, dict(exc.headers or {}) or None)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value the schema let through: a number beyond its integer range, a NUL
        # character in text (PostgreSQL). That is bad input, not a server fault.
        return problem_response(request, 422, "invalid_value",
                                "Giá trị không hợp lệ (số quá lớn hoặc ký tự không cho phép)",
                                "Invalid value (number out of range or a forbidden character)")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        vi, en = "Lỗi máy chủ; đã ghi lại để kiểm tra", "Internal server error; it has been logged"
        if wants_page(request):
            return html_error(request, 500, "internal_error", vi, en)
        return problem_response(request, 500, "internal_error", vi, en)


# What a person reads on the error page of a web path (the JSON API keeps the short titles).
PAGE_MESSAGES: dict[int, tuple[str, str]] = {
    404: ("Không có trang này. Có thể đường dẫn bị gõ sai hoặc trang đã bị xoá.",
          "There is no such page. The address may be mistyped, or the page was removed."),
    405: ("Không làm được thao tác này ở địa chỉ này.", "This action cannot be done at this address."),
}


def wants_page(request: Request) -> bool:
    """HTML for a browser on a web path; the JSON API (/api/...), the pages' JSON previews and clients that ask
    for JSON keep application/problem+json."""
    if request.url.path.startswith("/api/") or request.url.path == "/metrics":
        return False
    if "json" in request.headers.get("content-type", ""):
        return False
    accept = request.headers.get("accept", "")
    return not ("json" in accept and "html" not in accept)


def html_error(request: Request, status: int, code: str, vi: str, en: str,
               headers: dict[str, str] | None = None) -> Response:
    """The error page (api/web/templates/error.html) in the language of the language cookie."""
    try:
        from api.web.render import page_lang, render

        english = page_lang(request) == "en"
        # after a server error, no user lookup: the database may be what failed
        extra = {"user": None} if status >= 500 else {}
        response = render(request, "error.html", status=status, code=code, message=en if english else vi, **extra)
    except Exception:  # the page itself failed: still an HTML answer, in both languages
        response = HTMLResponse(f"<!doctype html><meta charset=utf-8><title>Loa</title><h1>{status}</h1>"
                                f"<p lang=vi>{escape(vi)}</p><p lang=en>{escape(en)}</p>", status_code=status)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response
