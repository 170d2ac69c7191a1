"""A few seconds of a relay stream, fetched by the station: what the cadre hears when they press "listen"
before saving (the page's CSP allows audio only from the station, so the station relays it), and the admin's
optional "does it answer now?" check.

What radios publish, and what the loudspeakers' ffmpeg plays: a direct stream (Icecast/Shoutcast: MP3, AAC,
Ogg), a playlist file pointing to one (.m3u, .pls), or HLS (.m3u8: a playlist of short segments, as VOV
publishes). The station fetches each address itself with httpx, checking every one (redirects, the playlist's
stream, each HLS variant and segment) like the first (`urls.py`: no local network); HLS segments (MPEG-TS)
are turned into MP3 by ffmpeg reading from a pipe only, so ffmpeg never opens an address itself.

Bounded: 5 s to connect and between bytes, LISTEN_SECONDS of reading once the audio starts (a live stream
never ends), LISTEN_MAX_BYTES, at most MAX_HOPS addresses. Only audio comes back: an HTML page (a radio's
website instead of its stream) is refused with a message saying so."""
from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from loa.errors import DomainError
from schedules.streams.urls import check_resolved, check_url

LISTEN_SECONDS = 6.0          # enough to recognise the station; the rest is heard on the day
LISTEN_MAX_BYTES = 512 * 1024  # 6 s of a 320 kbps stream is 240 KB
CONNECT_TIMEOUT_S = 5.0
MAX_HOPS = 6                   # redirects, playlist → stream, HLS master → variant
PLAYLIST_MAX_BYTES = 64 * 1024
AUDIO_TYPES = ("audio/", "application/ogg", "video/mp2t", "application/octet-stream", "application/aacp")
PLAYLIST_TYPES = ("audio/x-scpls", "audio/x-mpegurl", "audio/mpegurl", "application/vnd.apple.mpegurl",
                  "application/x-mpegurl", "application/pls+xml")
PLAYLIST_ENDINGS = (".m3u", ".m3u8", ".pls")


class StreamUnreachable(DomainError):
    """The stream did not answer with audio (a 502: the fault is the far side's, not the request's, so asking
    again later may work)."""

    status = 502
    retryable = True


@dataclass(frozen=True)
class Sample:
    content_type: str
    data: bytes
    stream_url: str | None = None  # the stream a .pls/.m3u playlist named (the loudspeakers need that one)


def _unreachable(why_vi: str, why_en: str) -> StreamUnreachable:
    return StreamUnreachable("stream_unreachable", f"Không nghe được luồng này: {why_vi}",
                             f"This stream cannot be heard: {why_en}")


class _Fetch:
    def __init__(self, client: httpx.Client, allowed_hosts: list[str]) -> None:
        self.client, self.allowed_hosts, self.hops = client, allowed_hosts, 0

    def open(self, url: str) -> httpx.Response:
        """GET `url` (checked), following redirects by hand; the caller reads the response inside `with`."""
        while True:
            self.hops += 1
            if self.hops > MAX_HOPS:
                raise _unreachable("chuyển hướng quá nhiều lần", "too many redirects")
            check_url(url, self.allowed_hosts)
            check_resolved(url, self.allowed_hosts)
            try:
                request = self.client.build_request("GET", url, headers={
                    "User-Agent": "loa-station/1.0 (listen before relay)", "Icy-MetaData": "0"})
                r = self.client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise _unreachable("máy chủ không trả lời kịp", "the server did not answer in time") from exc
            except httpx.HTTPError as exc:
                raise _unreachable("không kết nối được máy chủ", "could not connect to the server") from exc
            if r.is_redirect and r.headers.get("location"):
                r.close()
                url = urljoin(str(r.url), r.headers["location"])
                continue
            if r.status_code != 200:
                r.close()
                raise _unreachable(f"máy chủ trả lời mã {r.status_code}", f"the server answered {r.status_code}")
            return r

    def read(self, r: httpx.Response, max_bytes: int, seconds: float) -> bytes:
        """At most `max_bytes`, for at most `seconds` (a slow server cannot hold the listen)."""
        data = bytearray()
        deadline = time.monotonic() + seconds
        try:
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) >= max_bytes or time.monotonic() >= deadline:
                    break
        except httpx.TimeoutException as exc:
            if not data:
                raise _unreachable("máy chủ không trả lời kịp", "the server did not answer in time") from exc
        except httpx.HTTPError as exc:
            if not data:
                raise _unreachable("không kết nối được máy chủ", "could not connect to the server") from exc
        finally:
            r.close()
        return bytes(data[:max_bytes])


def _kind(r: httpx.Response) -> str:
    return str(r.headers.get("content-type", "")).split(";")[0].strip().lower()


def _is_playlist(url: str, kind: str) -> bool:
    return kind in PLAYLIST_TYPES or url.split("?", 1)[0].lower().endswith(PLAYLIST_ENDINGS)


def _hls(text: str) -> bool:
    return "#EXT-X-" in text


def _first_stream(text: str, base: str) -> str | None:
    """The first address in an .m3u or .pls playlist (`File1=http://…` or a bare line)."""
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith("file") and "=" in line:
            line = line.split("=", 1)[1].strip()
        if line and not line.startswith(("#", "[")) and "=" not in line.split("?", 1)[0]:
            return urljoin(base, line)
    return None


def _hls_sample(fetch: _Fetch, url: str, text: str, seconds: float, max_bytes: int) -> Sample:
    """HLS: the first variant of a master playlist, then the last segments of its media playlist (the live
    edge) adding up to `seconds`, fetched one by one, then MP3 for the browser."""
    from content.audio.ffmpeg import FfmpegError, run_ffmpeg

    if "#EXT-X-STREAM-INF" in text:
        variant = next((line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")), None)
        if variant is None:
            raise _unreachable("danh sách phát không có luồng nào", "the playlist names no stream")
        url = urljoin(url, variant)
        r = fetch.open(url)
        url = str(r.url)
        text = fetch.read(r, PLAYLIST_MAX_BYTES, CONNECT_TIMEOUT_S).decode("utf-8", "replace")
    segments = hls_segments(url, text)
    if not segments:
        raise _unreachable("danh sách phát không có đoạn âm thanh nào", "the playlist has no audio segments")
    chosen: list[str] = []
    total = 0.0
    for seg_duration, seg_url in reversed(segments):
        chosen.insert(0, seg_url)
        total += seg_duration or seconds
        if total >= seconds or len(chosen) >= 4:
            break
    data = bytearray()
    until = time.monotonic() + seconds + 2 * CONNECT_TIMEOUT_S  # all the segments together
    for seg_url in chosen:
        fetch.hops = 0  # each segment is its own address (its redirects are still bounded)
        left = until - time.monotonic()
        if left <= 0:
            break
        data += fetch.read(fetch.open(seg_url), max_bytes - len(data), left)
        if len(data) >= max_bytes:
            break
    if not data:
        raise _unreachable("máy chủ không trả lời kịp", "the server did not answer in time")
    try:  # ffmpeg reads the bytes from a pipe: it opens no address of its own
        mp3 = run_ffmpeg(["-protocol_whitelist", "pipe", "-i", "pipe:0", "-vn", "-t", str(seconds + 4),
                          "-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3", "pipe:1"], stdin=bytes(data), timeout=30)
    except FfmpegError as exc:
        raise _unreachable("luồng không phải âm thanh đọc được", "the stream is not audio the station can read") from exc
    if not mp3:
        raise _unreachable("luồng không gửi âm thanh", "the stream sent no audio")
    return Sample("audio/mpeg", mp3)


def fetch_sample(url: str, allowed_hosts: Iterable[str] = (), seconds: float = LISTEN_SECONDS,
                 max_bytes: int = LISTEN_MAX_BYTES) -> Sample:
    timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=CONNECT_TIMEOUT_S)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        fetch = _Fetch(client, list(allowed_hosts))
        named: str | None = None
        while True:
            r = fetch.open(url)
            url, kind = str(r.url), _kind(r)
            if _is_playlist(url, kind):
                text = fetch.read(r, PLAYLIST_MAX_BYTES, CONNECT_TIMEOUT_S).decode("utf-8", "replace")
                if _hls(text):
                    return _hls_sample(fetch, url, text, seconds, max_bytes)
                nxt = _first_stream(text, url)
                if nxt is None:
                    raise _unreachable("danh sách phát không có luồng nào", "the playlist names no stream")
                url = named = nxt
                continue
            if not kind.startswith(AUDIO_TYPES):
                r.close()
                raise _unreachable("địa chỉ này là một trang web, không phải luồng âm thanh",
                                   "this address is a web page, not an audio stream")
            data = fetch.read(r, max_bytes, seconds)  # a live stream never ends: read this long
            if not data:
                raise _unreachable("luồng không gửi âm thanh", "the stream sent no audio")
            return Sample(kind if kind.startswith(("audio/", "application/ogg")) else "audio/mpeg", data, named)


def stream_address(url: str, allowed_hosts: Iterable[str] = (), check_now: bool = False) -> str:
    """The address to save. The loudspeakers' ffmpeg plays a direct stream or HLS, not a .pls/.m3u playlist
    file: for one of those, the stream it names (fetched now). With `check_now`, the stream must answer with
    audio now (a short read), 502 otherwise."""
    playlist = url.split("?", 1)[0].lower().endswith((".pls", ".m3u"))
    if not (playlist or check_now):
        return url
    sample = fetch_sample(url, allowed_hosts, seconds=1.0, max_bytes=16 * 1024)
    return check_url(sample.stream_url, allowed_hosts) if sample.stream_url else url


def hls_segments(base: str, text: str) -> list[tuple[float, str]]:
    """An HLS media playlist's segments: (seconds its #EXTINF says, 0.0 if none; absolute URL), in order."""
    segments: list[tuple[float, str]] = []
    duration = 0.0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            match = re.match(r"#EXTINF:\s*([\d.]+)", line)
            duration = float(match.group(1)) if match else 0.0
        elif line and not line.startswith("#"):
            segments.append((duration, urljoin(base, line)))
    return segments
