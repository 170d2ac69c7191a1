"""The `gtts` engine: Google Translate's online voice, through the gTTS library, made safe for a flaky uplink.

gTTS sends one request per chunk of at most 100 characters (a 1,000-character announcement is ~18 requests),
with no timeout by default (a silent route hangs forever) and no retry. So we drive it one chunk at a time:
- every request has a timeout;
- a 429 or 5xx reply is retried with exponential backoff and jitter, a bounded number of times, for that chunk
  only;
- every chunk that arrived is kept in an on-disk chunk cache (written atomically), so a retry, a second
  attempt after an outage, or a re-render never asks Google again for what it already has;
- a connection failure or timeout is not retried here: the uplink is down, and `auto` falls back to an offline
  engine at once. After any failure the engine reports itself unavailable for `cooldown_s`, so a batch of
  renders does not wait out one timeout per item.
"""
from __future__ import annotations

import hashlib
import io
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from pathlib import Path
from urllib.parse import urlsplit

from content.audio.ffmpeg import FfmpegError, decode_to_pcm
from content.tts.atomic import atomic_write_bytes
from content.tts.base import EngineError, check_speed, check_voice, join_sentences
from content.tts.disk_budget import DiskBudget, touch
from content.tts.tempo import change_tempo
from content.types import Pcm

GOOGLE_RATE = 24000  # Google's MP3s are 24 kHz mono; decoding at that rate avoids a resample
SLOW_BELOW = 0.8  # gTTS has only "normal" and "slow": speeds under this ask Google for slow speech
_VOICES = {"vi": "vi"}  # voice name -> Google language code (Google has one, northern, Vietnamese voice)


class _Retryable(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


def chunk_key(lang: str, tld: str, slow: bool, text: str) -> str:
    return hashlib.sha256(f"{lang}\0{tld}\0{int(slow)}\0{text}".encode()).hexdigest()


def _looks_like_mp3(data: bytes) -> bool:
    return len(data) > 4 and (data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0))


class GttsEngine:
    name = "gtts"
    default_voice = "vi"

    def __init__(
        self,
        enabled: bool = True,
        tld: str = "com.vn",
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        chunk_cache_dir: str | Path | None = None,
        cooldown_s: float = 60.0,
        cache_budget: DiskBudget | None = None,
        precheck: bool = True,
        precheck_ttl_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if timeout is None or timeout <= 0:
            raise ValueError("gTTS needs a positive timeout (without one it can hang forever)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.enabled = enabled
        self.tld = tld
        self.timeout = float(timeout)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.chunk_cache_dir = Path(chunk_cache_dir) if chunk_cache_dir is not None else None
        self.cache_budget = cache_budget
        self.cooldown_s = cooldown_s
        self.precheck = precheck
        self.precheck_ttl_s = precheck_ttl_s
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._down_until = float("-inf")
        self._down_reason = ""
        self._precheck_at = float("-inf")
        self._precheck_result: str | None = None
        self.requests_made = 0  # network requests sent (tests and the bench read this)

    # ---- availability -------------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        try:
            import gtts  # noqa: F401
        except ImportError:
            return "Chưa cài gTTS / gTTS is not installed"
        if not self.enabled:
            return "Giọng Google đang tắt trong cài đặt (online=false) / Google voice is disabled in settings"
        now = self._clock()
        with self._lock:
            if now < self._down_until:
                wait = int(self._down_until - now + 0.999)
                return (f"Giọng Google vừa lỗi, thử lại sau {wait} giây / Google voice failed recently, "
                        f"retrying in {wait} s: {self._down_reason}")
        if self.precheck:
            return self._reachability(now)
        return None

    def _reachability(self, now: float) -> str | None:
        """A quick TCP connect to Google's host (cached): catches "no uplink" without a full request."""
        with self._lock:
            if now - self._precheck_at < self.precheck_ttl_s:
                return self._precheck_result
        import gtts.tts

        parts = urlsplit(gtts.tts._translate_url(tld=self.tld))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=min(1.0, self.timeout)):
                result = None
        except OSError as exc:
            result = (f"Không kết nối được tới {parts.hostname} (mất mạng?) / "
                      f"Cannot reach {parts.hostname} (offline?): {exc}")
        with self._lock:
            self._precheck_at, self._precheck_result = now, result
        return result

    def _mark_down(self, reason: str) -> None:
        with self._lock:
            self._down_until = self._clock() + self.cooldown_s
            self._down_reason = reason

    # ---- interface ----------------------------------------------------------------------------------
    def voices(self) -> list[str]:
        return list(_VOICES)

    def region(self, voice: str) -> str:
        return "north"  # Google's Vietnamese voice is a Hà Nội voice: nghìn, linh

    def language(self, voice: str) -> str:
        return _VOICES.get(voice, "vi")

    def cache_identity(self, voice: str) -> str:
        return f"gtts lang={_VOICES.get(voice)} tld={self.tld}"

    def synthesize(self, sentences: list[str], voice: str, speed: float) -> Pcm:
        check_voice(self, voice)
        speed = check_speed(speed)
        lang = _VOICES[voice]
        slow = speed < SLOW_BELOW
        parts: list[Pcm] = []
        try:
            for sentence in sentences:
                chunks = self._chunks(sentence, lang)
                if not chunks:
                    continue
                mp3 = b"".join(self._fetch_chunk(c, lang, slow) for c in chunks)
                parts.append(self._decode(mp3))
        except EngineError as exc:
            self._mark_down(str(exc))
            raise
        pcm = join_sentences(parts)
        return pcm if slow else change_tempo(pcm, speed)

    # ---- chunks -------------------------------------------------------------------------------------
    def _chunks(self, sentence: str, lang: str) -> list[str]:
        """Split exactly the way gTTS would (its pre-processors, tokenizer and 100-character limit)."""
        from gtts import gTTS

        if not sentence.strip():
            return []
        chunks: list[str] = gTTS(sentence, lang=lang, tld=self.tld, lang_check=False,
                                 timeout=self.timeout)._tokenize(sentence)  # (untyped library)
        return chunks

    def _cache_path(self, key: str) -> Path | None:
        return self.chunk_cache_dir / key[:2] / f"{key}.mp3" if self.chunk_cache_dir else None

    def _fetch_chunk(self, chunk: str, lang: str, slow: bool) -> bytes:
        path = self._cache_path(chunk_key(lang, self.tld, slow, chunk))
        if path is not None and path.exists():
            data = path.read_bytes()
            if _looks_like_mp3(data):
                touch(path)  # recently used: the last to be pruned
                return data
            path.unlink(missing_ok=True)  # damaged by hand or disk: fetch again
        for attempt in range(1, self.max_attempts + 1):
            try:
                data = self._request(chunk, lang, slow)
                break
            except _Retryable as exc:
                if attempt == self.max_attempts:
                    raise EngineError(
                        f"Máy chủ Google từ chối (HTTP {exc.status}) sau {attempt} lần thử / "
                        f"Google refused (HTTP {exc.status}) after {attempt} attempts", self.name, retryable=True) from exc
                self._sleep(self._backoff(attempt, exc.retry_after))
        if path is not None:
            atomic_write_bytes(path, data)
            if self.cache_budget is not None:
                self.cache_budget.wrote(len(data))
        return data

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so clients spread out."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_cap_s))
        return delay

    def _request(self, chunk: str, lang: str, slow: bool) -> bytes:
        from gtts import gTTS, gTTSError

        # No pre-processors: the chunk already went through them in _chunks; one chunk = one request.
        tts = gTTS(chunk, lang=lang, tld=self.tld, slow=slow, lang_check=False,
                   pre_processor_funcs=[], timeout=self.timeout)
        buf = io.BytesIO()
        self.requests_made += 1
        try:
            tts.write_to_fp(buf)
        except gTTSError as exc:
            rsp = exc.rsp
            status = getattr(rsp, "status_code", None)
            if status is not None and (status == 429 or status >= 500):
                raise _Retryable(status, _retry_after(rsp)) from exc
            if status is None:
                raise EngineError(self._connection_message(exc), self.name, retryable=True) from exc
            raise EngineError(f"Giọng Google trả lỗi HTTP {status} / Google voice answered HTTP {status}: {exc}",
                              self.name, retryable=True) from exc
        data = buf.getvalue()
        if not _looks_like_mp3(data):
            raise EngineError("Giọng Google trả về dữ liệu không phải âm thanh / "
                              "Google voice returned something that is not audio", self.name)
        return data

    def _connection_message(self, exc: BaseException) -> str:
        import requests

        cause = exc.__context__ or exc.__cause__  # gTTS raises from inside its `except RequestException`
        if isinstance(cause, requests.exceptions.Timeout):
            return (f"Giọng Google không trả lời trong {self.timeout:g} giây / "
                    f"Google voice did not answer within {self.timeout:g} s")
        return f"Không kết nối được giọng Google (mất mạng?) / Cannot reach the Google voice (offline?): {cause or exc}"

    def _decode(self, mp3: bytes) -> Pcm:
        try:
            return decode_to_pcm(mp3, rate=GOOGLE_RATE, mono=True, timeout=120)
        except FfmpegError as exc:
            raise EngineError(f"Không giải mã được âm thanh Google / Cannot decode Google audio: {exc}",
                              self.name) from exc


def _retry_after(rsp: Any) -> float | None:  # a requests Response from gTTS's error, or None
    value = rsp.headers.get("Retry-After") if rsp is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from Google; our own backoff is enough
