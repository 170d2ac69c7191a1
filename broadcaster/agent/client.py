"""HTTP to the station (broadcaster/agent/http.py, standard library): bearer token, timeouts, retries with
backoff, conditional GET, resumable audio, and a clock sample from every reply (docs/device-protocol.md §3, §5,
§9)."""
from __future__ import annotations

import contextlib
import json
import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from broadcaster.agent.clock import ClockEstimator
from broadcaster.agent.errors import AgentError
from broadcaster.agent.http import HttpTransport, Request, Response, Transport, TransportError
from broadcaster.protocol.wire import API_PREFIX, MANIFEST_VERSION_HEADER, SERVER_TIME_HEADER

RETRY_STATUS = {429, 500, 502, 503, 504}


class StationError(AgentError):
    """A reply the device cannot use. `code` is the protocol error code (or a transport code). Retryable when
    the station was unreachable, busy (429) or failing (5xx); any other refusal stays until something changes."""

    def __init__(self, code: str, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after
        self._describe(code, message, code == "unreachable" or status in RETRY_STATUS)


class DeviceRevoked(StationError):
    """The station revoked this device: permanent until it is enrolled again."""

    retryable = False

    def __init__(self, code: str, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(code, message, status, retry_after)
        self.retryable = False


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class StationClient:
    def __init__(self, base_url: str, token: str | None = None, *, estimator: ClockEstimator | None = None,
                 raw_now: Callable[[], datetime] = _utc_now, retries: int = 3, backoff: float = 1.0,
                 max_backoff: float = 300.0, connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 transport: Transport | None = None, sleep: Callable[[float], None] = time.sleep,
                 user_agent: str = "loa-agent") -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.estimator = estimator or ClockEstimator()
        self.raw_now = raw_now
        self.retries, self.backoff, self.max_backoff, self.sleep = retries, backoff, max_backoff, sleep
        self.read_timeout = read_timeout
        self.transport: Transport = transport or HttpTransport(connect_timeout=connect_timeout)
        self.user_agent = user_agent
        self._host = urlsplit(self.base_url).netloc

    def close(self) -> None:
        self.transport.close()

    # -- plumbing ----------------------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
        headers = [("Host", self._host), ("User-Agent", self.user_agent)]
        if self.token:
            headers.append(("Authorization", f"Bearer {self.token}"))
        headers += (extra or {}).items()
        return headers

    def _observe(self, t0: datetime, t1: datetime, response: Response) -> None:
        self.estimator.add_reply(t0, t1, response.headers.get("date"), response.headers.get(SERVER_TIME_HEADER))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        base = min(self.max_backoff, self.backoff * (2.0 ** attempt))
        delay = base * random.uniform(0.8, 1.2)
        return max(delay, retry_after or 0.0)

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), stream: bool = False,
                headers: dict[str, str] | None = None, json_body: Any = None,
                read_timeout: float | None = None, retries: int | None = None) -> Response:
        """One call with retries on transport errors and 429/5xx; other failures raise StationError at once.
        Without `stream` the body has been read when this returns; with it, read or close it."""
        retries = self.retries if retries is None else retries
        last: Exception | None = None
        content = None
        extra = dict(headers or {})
        if json_body is not None:  # compact JSON: a 3G link pays for every space
            content = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            extra["Content-Type"] = "application/json"
        if content is not None or method in ("POST", "PUT", "PATCH"):
            extra["Content-Length"] = str(len(content or b""))
        req = Request(method, self.base_url + path, self._headers(extra), content,
                      self.read_timeout if read_timeout is None else read_timeout)
        for attempt in range(retries + 1):
            t0 = self.raw_now()
            try:
                response = self.transport.handle(req)
                if not stream:
                    response.read()
            except TransportError as exc:
                last = StationError("unreachable", f"Không kết nối được đài / station unreachable: {exc}")
                if attempt < retries:
                    self.sleep(self._delay(attempt, None))
                continue
            self._observe(t0, self.raw_now(), response)
            if response.status_code in ok:
                return response
            try:
                response.read()
            except TransportError:
                pass  # the error reply's body is a courtesy; the status says enough
            error = self._error(response)
            if response.status_code in RETRY_STATUS and attempt < retries:
                last = error
                self.sleep(self._delay(attempt, error.retry_after))
                continue
            raise error
        assert last is not None
        raise last

    @staticmethod
    def _error(response: Response) -> StationError:
        code, message = f"http_{response.status_code}", response.reason_phrase
        try:
            body = response.json()
            # The station answers RFC 9457 problem+json with a stable top-level `code`.
            code = str(body["code"])
            message = str(body.get("message_vi") or body.get("detail") or message)
            if body.get("message_en"):
                message += " / " + str(body["message_en"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        retry_after = None
        if "retry-after" in response.headers:
            try:
                retry_after = float(response.headers["retry-after"])
            except ValueError:
                retry_after = None
        cls = DeviceRevoked if code == "device_revoked" else StationError
        return cls(code, message, response.status_code, retry_after)

    # -- endpoints ---------------------------------------------------------------------------------------
    def get_manifest(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """(envelope, etag), or (None, etag) when unchanged (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self.request("GET", f"{API_PREFIX}/manifest", ok=(200, 304), headers=headers)
        new_etag = response.headers.get("etag", etag)
        if response.status_code == 304:
            return None, new_etag
        return response.json(), new_etag

    def audio_fetcher(self, url: str) -> Callable[[int], tuple[int, Iterator[bytes]]]:
        """A fetcher for AudioStore.fetch: GET with `Range: bytes=N-`; tells where the body really starts."""

        def fetch(offset: int) -> tuple[int, Iterator[bytes]]:
            # identity: Range offsets and the hash refer to the file's own bytes, never a compressed form
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            response = self.request("GET", url, ok=(200, 206), stream=True, headers=headers)
            start = 0
            if response.status_code == 206:
                content_range = response.headers.get("content-range", "")
                try:
                    start = int(content_range.split()[1].split("-")[0])
                except (IndexError, ValueError):
                    response.close()
                    raise StationError("invalid_reply",
                                       f"Content-Range lạ / bad Content-Range {content_range!r}") from None

            def chunks() -> Iterator[bytes]:
                # as it arrives: every byte received is written, even if the link drops next
                try:
                    yield from response.iter_raw()
                except TransportError as exc:
                    raise StationError("unreachable", f"Đường truyền đứt / link lost mid-file: {exc}") from exc

            return start, chunks()

        return fetch

    def open_stream(self, path: str, read_timeout: float = 10.0) -> Response:
        """A mount of the station's own stream hub (a relay or live speech, `/api/device/v1/streams/<name>`), with
        this device's token and the station's TLS trust. One try: the relay's own budget decides about retries
        (broadcaster/agent/relay.py). Read `iter_raw()` until the mount ends; close it to hang up."""
        return self.request("GET", path, stream=True, retries=0, read_timeout=read_timeout,
                            headers={"Accept": "audio/mpeg", "Accept-Encoding": "identity"})

    def heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """§6: `204` with the station's manifest version in `X-Loa-Manifest-Version` (a `200` JSON reply from an
        older station is understood too). Returns {"manifest_version": …}."""
        response = self.request("POST", f"{API_PREFIX}/heartbeat", ok=(200, 204), json_body=payload)
        if response.status_code == 204:
            return {"manifest_version": response.headers.get(MANIFEST_VERSION_HEADER) or None}
        reply: dict[str, Any] = response.json()
        return reply

    def upload_plays(self, records: list[dict[str, Any]]) -> int:
        body = self.request("POST", f"{API_PREFIX}/plays", json_body={"records": records}).json()
        return int(body["acked_through"])

    def get_keys(self) -> dict[str, Any]:
        reply: dict[str, Any] = self.request("GET", f"{API_PREFIX}/keys").json()
        return reply

    def enroll_start(self, info: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = self.request("POST", f"{API_PREFIX}/enroll/start", ok=(200, 201), json_body=info).json()
        return reply

    def enroll_poll(self, enrollment_id: str, poll_secret: str) -> dict[str, Any] | None:
        """Credentials once a cadre confirmed, None while pending."""
        response = self.request("POST", f"{API_PREFIX}/enroll/poll", ok=(200, 202),
                                json_body={"enrollment_id": enrollment_id, "poll_secret": poll_secret})
        if response.status_code != 200:
            return None
        creds: dict[str, Any] = response.json()
        return creds

    def enroll_claim(self, code: str, info: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = self.request("POST", f"{API_PREFIX}/enroll/claim", json_body={"code": code, **info}).json()
        return reply

    def events(self, read_timeout: float = 60.0, on_command: Callable[[dict[str, Any]], object] | None = None) -> Iterator[dict[str, Any]]:
        """Server-Sent Events: yields the JSON data of each `sync` event until the stream ends; hands each
        `command` event's JSON (a signed command, §4a) to `on_command` at once."""
        response = self.request("GET", f"{API_PREFIX}/events", stream=True, headers={"Accept": "text/event-stream"},
                                read_timeout=read_timeout)
        with contextlib.closing(response):
            event = "message"
            data: list[str] = []
            for line in response.iter_lines():
                if line == "":
                    if data and event == "sync":
                        try:
                            yield json.loads("\n".join(data))
                        except ValueError:
                            pass
                    elif data and event == "command" and on_command is not None:
                        try:
                            body = json.loads("\n".join(data))
                        except ValueError:
                            body = None
                        if body is not None:
                            on_command(body)
                    event, data = "message", []
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
