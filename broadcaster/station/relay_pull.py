"""The station reads a relayed radio with its own HTTP client and feeds the bytes to a hub mount, so ffmpeg never
opens an address itself: every address — the radio's, each redirect, a .pls/.m3u's stream, an HLS playlist's
variant and each segment — passes the same check as a "listen" (schedules/streams/urls.py: never a machine of
the station's own network unless LOA_RELAY_ALLOWED_HOSTS names it), hop by hop, as schedules/streams/sample.py
does for a few seconds.

Direct streams (Icecast/Shoutcast MP3, AAC, Ogg) are copied as they arrive (a live radio paces itself). HLS is
followed at its live edge: the media playlist is re-read every half target duration and each new segment
(MPEG-TS) is fed once, paced to real time, so listeners hear "now", not a burst. When the radio ends, stops
sending for READ_TIMEOUT_S, or an address is refused, the mount is closed: the relay runner opens it again at
its next tick, and the loudspeakers retry meanwhile (broadcaster/agent/relay.py).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from urllib.parse import urljoin

import httpx

from broadcaster.station.streams import Mount, MountClosed
from schedules.streams.sample import (
    hls_segments,
    AUDIO_TYPES, PLAYLIST_MAX_BYTES, _Fetch, _first_stream, _hls, _is_playlist, _kind,
)

log = logging.getLogger("loa.broadcaster.relays")

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0   # a radio silent this long is gone
LIVE_EDGE = 2           # HLS: start this many segments before the newest


class RadioPull:
    """One thread per relay mount: radio → checked HTTP → mount.feed(); `stop()` ends it."""

    def __init__(self, mount: Mount, url: str, allowed_hosts: Iterable[str] = ()) -> None:
        self.mount, self.url, self.allowed_hosts = mount, url, [h for h in allowed_hosts if h.strip()]
        self.error = ""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"loa-relay-pull-{mount.name}", daemon=True)

    def start(self) -> "RadioPull":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                self._pull(_Fetch(client, self.allowed_hosts), self.url)
        except MountClosed:
            pass
        except Exception as exc:  # noqa: BLE001 — refused, unreachable, cut: the mount ends and is reopened
            self.error = str(exc)[:300] or repr(exc)
            log.warning("relay %s (%s) ended: %s", self.mount.name, self.url, self.error)
        finally:
            self.mount.close()

    def _pull(self, fetch: _Fetch, url: str) -> None:
        while not self._stop.is_set():
            r = fetch.open(url)
            url, kind = str(r.url), _kind(r)
            if _is_playlist(url, kind):
                text = fetch.read(r, PLAYLIST_MAX_BYTES, CONNECT_TIMEOUT_S).decode("utf-8", "replace")
                if _hls(text):
                    return self._hls(fetch, url, text)
                nxt = _first_stream(text, url)
                if nxt is None:
                    raise RuntimeError("the playlist names no stream")
                url, fetch.hops = nxt, 0
                continue
            if not kind.startswith(AUDIO_TYPES):
                r.close()
                raise RuntimeError(f"not audio: {kind or 'no content type'}")
            try:
                for chunk in r.iter_bytes():
                    if self._stop.is_set():
                        return
                    self.mount.feed(chunk)
            finally:
                r.close()
            return  # the radio ended its stream

    # -- HLS -------------------------------------------------------------------------------------------------
    def _playlist(self, fetch: _Fetch, url: str) -> tuple[str, str]:
        fetch.hops = 0
        r = fetch.open(url)
        return str(r.url), fetch.read(r, PLAYLIST_MAX_BYTES, CONNECT_TIMEOUT_S).decode("utf-8", "replace")

    def _hls(self, fetch: _Fetch, url: str, text: str) -> None:
        if "#EXT-X-STREAM-INF" in text:  # a master playlist: its first variant
            variant = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), None)
            if variant is None:
                raise RuntimeError("the playlist names no stream")
            url, text = self._playlist(fetch, urljoin(url, variant))
        fed: set[str] = set()
        first = True
        started, audio_s = time.monotonic(), 0.0
        while not self._stop.is_set():
            segments = _segments(url, text)
            if not segments:
                raise RuntimeError("the playlist has no audio segments")
            fresh = [s for s in (segments[-LIVE_EDGE:] if first else segments) if s[1] not in fed]
            first = False
            for seconds, seg_url in fresh:
                fetch.hops = 0  # each segment is its own address (its redirects still bounded and checked)
                r = fetch.open(seg_url)
                try:
                    for chunk in r.iter_bytes():
                        self.mount.feed(chunk)
                finally:
                    r.close()
                fed.add(seg_url)
                audio_s += seconds
                # real time: never more than one segment ahead of the wall clock
                ahead = audio_s - (time.monotonic() - started) - seconds
                if ahead > 0 and self._stop.wait(ahead):
                    return
            if "#EXT-X-ENDLIST" in text:
                return
            target = max((s for s, _ in segments), default=2.0)
            if self._stop.wait(max(0.5, target / 2)):
                return
            url, text = self._playlist(fetch, url)
            fed &= {u for _, u in _segments(url, text)}  # forget what left the playlist


def _segments(base: str, text: str) -> list[tuple[float, str]]:
    """The playlist's segments, a segment without #EXTINF counted as 2 s (the pacing needs a length)."""
    return [(duration or 2.0, url) for duration, url in hls_segments(base, text)]
