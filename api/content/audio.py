"""Serving audio files: strong ETag = sha256, HTTP Range (206/416), and caching that matches the URL.

Shared by the content API, the residents' pages and the device endpoints (a device resumes a broken download
with Range). Only a URL that names the content hash may be cached as immutable: a by-id URL serves other bytes
after an edit, so it is `no-cache` (the browser revalidates with the ETag, the hash, and gets a cheap 304 while
nothing changed). Drafts and everything behind a login are `private`: no shared cache keeps them."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from api.errors import problem_response

MEDIA_TYPES = {".ogg": "audio/ogg", ".mp3": "audio/mpeg"}
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        while length > 0:
            block = fh.read(min(CHUNK, length))
            if not block:
                break
            length -= len(block)
            yield block


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in header.split(",")]


# The four cache policies: (hash in the URL or not) × (public or not).
IMMUTABLE_PUBLIC = "public, max-age=31536000, immutable"
IMMUTABLE_PRIVATE = "private, max-age=31536000, immutable"
REVALIDATE_PUBLIC = "public, no-cache"
REVALIDATE_PRIVATE = "private, no-cache"


def cache_policy(hash_in_url: bool, public: bool) -> str:
    if hash_in_url:
        return IMMUTABLE_PUBLIC if public else IMMUTABLE_PRIVATE
    return REVALIDATE_PUBLIC if public else REVALIDATE_PRIVATE


def serve_audio(request: Request, path: Path, sha256: str, cache_control: str = REVALIDATE_PRIVATE) -> Response:
    size = path.stat().st_size
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "Accept-Ranges": "bytes"}
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if range_header and not range_header.lstrip().lower().startswith("bytes="):
        range_header = None  # RFC 9110 §14.2: a range unit we do not know is ignored (200, the whole body)
    if_range = request.headers.get("if-range")
    if range_header and (if_range is None or if_range.strip() == etag):
        match = _RANGE_RE.match(range_header.strip())
        start = end = None
        if match and (match.group(1) or match.group(2)):
            first, last = match.group(1), match.group(2)
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(size - int(last), 0), size - 1
        if start is None or start >= size or end < start or (match and match.group(2) and not match.group(1)
                                                              and int(match.group(2)) == 0):
            return problem_response(request, 416, "range_not_satisfiable", "Khoảng byte không hợp lệ",
                                    "The requested byte range cannot be served",
                                    headers={**headers, "Content-Range": f"bytes */{size}"})
        length = end - start + 1
        headers.update({"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(length)})
        return StreamingResponse(_read(path, start, length), status_code=206, media_type=media_type,
                                 headers=headers)
    headers["Content-Length"] = str(size)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=media_type)
    return StreamingResponse(_read(path, 0, size), media_type=media_type, headers=headers)
