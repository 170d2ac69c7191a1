"""A few seconds of a relay stream, fetched by the station: what the cadre hears when they press "listen"
before saving (the page's CSP allows audio only from the station, so the station relays it), and the admin's
optional "does it answer now?" check.

Bounded three ways: the time to connect and between bytes (5 s), the time reading once the audio starts (a live
stream never ends), and the bytes.
Redirects are followed by hand (at most 3), each new address checked like the first. Only audio comes back:
an HTML page (a radio's website instead of its stream) is refused with a message saying so."""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from loa.errors import DomainError
from schedules.streams.urls import check_resolved, check_url

LISTEN_SECONDS = 6.0          # enough to recognise the station; the rest is heard on the day
LISTEN_MAX_BYTES = 512 * 1024  # 6 s of a 320 kbps stream is 240 KB
CONNECT_TIMEOUT_S = 5.0
AUDIO_TYPES = ("audio/", "application/ogg", "video/mp2t", "application/octet-stream")


class StreamUnreachable(DomainError):
    """The stream did not answer with audio (a 502: the fault is the far side's, not the request's)."""

    status = 502


@dataclass(frozen=True)
class Sample:
    content_type: str
    data: bytes


def _unreachable(why_vi: str, why_en: str) -> StreamUnreachable:
    return StreamUnreachable("stream_unreachable", f"Không nghe được luồng này: {why_vi}",
                             f"This stream cannot be heard: {why_en}")


def fetch_sample(url: str, allowed_hosts: Iterable[str] = (), seconds: float = LISTEN_SECONDS,
                 max_bytes: int = LISTEN_MAX_BYTES) -> Sample:
    allowed_hosts = list(allowed_hosts)
    timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=CONNECT_TIMEOUT_S)
    headers = {"User-Agent": "loa-station/1.0 (listen before relay)", "Icy-MetaData": "0"}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(4):
            check_url(url, allowed_hosts)
            check_resolved(url, allowed_hosts)
            try:
                with client.stream("GET", url, headers=headers) as r:
                    if r.is_redirect and r.headers.get("location"):
                        url = str(r.url.join(r.headers["location"]))
                        continue
                    if r.status_code != 200:
                        raise _unreachable(f"máy chủ trả lời mã {r.status_code}",
                                           f"the server answered {r.status_code}")
                    kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
                    if not kind.startswith(AUDIO_TYPES):
                        raise _unreachable("địa chỉ này là một trang web, không phải luồng âm thanh",
                                           "this address is a web page, not an audio stream")
                    data = bytearray()
                    deadline = time.monotonic() + seconds  # a live stream never ends: read this long
                    for chunk in r.iter_bytes():
                        data += chunk
                        if len(data) >= max_bytes or time.monotonic() >= deadline:
                            break
                    if not data:
                        raise _unreachable("luồng không gửi âm thanh", "the stream sent no audio")
                    return Sample(kind if kind.startswith(("audio/", "application/ogg")) else "audio/mpeg",
                                  bytes(data[:max_bytes]))
            except (httpx.TimeoutException,) as exc:
                raise _unreachable("máy chủ không trả lời kịp", "the server did not answer in time") from exc
            except httpx.HTTPError as exc:
                raise _unreachable("không kết nối được máy chủ", "could not connect to the server") from exc
    raise _unreachable("chuyển hướng quá nhiều lần", "too many redirects")


def check_reachable(url: str, allowed_hosts: Iterable[str] = ()) -> None:
    """The admin's optional check when saving: the stream answers with audio now (a short read)."""
    fetch_sample(url, allowed_hosts, seconds=1.0, max_bytes=16 * 1024)

