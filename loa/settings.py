"""Station settings from the environment (LOA_*) and the command line; one place, documented in docs/api.md.

`data_dir(explicit)` stays the single rule every `loa` command uses to find its data directory:
--data-dir, else LOA_DATA_DIR, else ./data. `Settings` gathers the rest (database, timezone, limits, auth).
"""
from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the station keeps its database and audio: --data-dir, else LOA_DATA_DIR, else ./data."""
    chosen = explicit or os.environ.get("LOA_DATA_DIR") or "data"
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


class Settings(BaseSettings):
    """Every knob of the station server. Environment variables are the field names prefixed with LOA_."""

    model_config = SettingsConfigDict(env_prefix="LOA_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Database, audio store and temp files")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file loa.db in the data directory"
    )
    timezone: str = DEFAULT_TIMEZONE
    # Uploads: recordings of a few minutes at phone bitrates are 1–10 MB; 60 MB leaves room for WAV.
    max_upload_bytes: int = 60 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    upload_chunk_bytes: int = 1024 * 1024
    # Auth
    cookie_secure: bool = Field(default=False, description="Set the Secure flag on cookies (behind HTTPS)")
    session_hours: int = 12
    token_days: int = 90
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    print_setup_token: bool = True
    public_url: str | None = Field(
        default=None, description="The station's address as residents reach it, e.g. https://loa.cocsan.vn: RSS "
        "links and the login origin check use it (unset: the address of the request, see docs/operations.md)")
    trusted_proxies: str = Field(
        default="", description="Proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDRs); "
        "empty: nobody's, the socket peer is the client")
    # Background jobs
    worker_enabled: bool = True
    worker_poll_seconds: float = 1.0
    job_lease_seconds: int = 300
    job_max_attempts: int = 5
    job_backoff_seconds: float = 5.0
    # Rendering (text-to-speech: content/tts; docs/content.md)
    tts_cache_dir: Path | None = None
    tts_online: bool = Field(default=True, description="false: never contact Google's TTS (no uplink, or policy); "
                             "`auto` then uses Piper, else espeak-ng")
    tts_cache_max_mb: float = Field(default=512, gt=0, description="disk budget of the TTS caches, MB")
    gtts_tld: str = Field(default="com.vn", description="Google host gTTS asks (translate.google.<tld>)")
    gtts_timeout: float = Field(default=10.0, gt=0, description="seconds per gTTS request")
    piper_voices_dir: Path | None = Field(default=None, description="a folder of Piper voices (*.onnx + .json)")
    piper_model: Path | None = Field(default=None, description="one Piper voice model (.onnx)")
    piper_config: Path | None = Field(default=None, description="its config (default: <model>.json)")
    espeak_pitch: int = Field(default=50, ge=0, le=99, description="espeak-ng voice pitch")
    # Masterings at once in this process (uploads and renders); more uploads wait as jobs ("đang chờ").
    # One mastering takes ~30–100 MB beyond the idle server whatever the recording's length (docs/content.md),
    # and one core: 2 suits a 1–2 GB, 2-core box.
    max_concurrent_masterings: int = Field(
        default=2, ge=1, le=64,
        description="masterings at once in this process (uploads, renders); more uploads wait as jobs")
    # Scheduler (issue 4): None = run inside `loa serve` when the worker runs there; false when a separate
    # `loa scheduler` process runs (exactly one scheduler per database).
    scheduler_enabled: bool | None = None
    scheduler_horizon_hours: int = 72
    # Broadcaster (docs/device-protocol.md): push nudges over MQTT when a broker is set, SSE always
    mqtt_url: str | None = Field(default=None, description="Broker the station publishes nudges to, e.g. mqtt://127.0.0.1:1883")
    mqtt_device_url: str | None = Field(default=None, description="Broker URL given to devices (default: mqtt_url)")
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # How often a schedule may play (docs/schedules.md): plays at least this far apart, at most this many per
    # loudspeaker in any 72 hours (288 = one every 15 minutes around the clock; a commune airs a few a day)
    schedule_min_interval_s: int = Field(
        default=300, ge=1, description="Two plays of a schedule at least this many seconds apart (422 otherwise)")
    schedule_max_plays_per_72h: int = Field(
        default=288, ge=1, description="Most plays one loudspeaker may get in any 72 hours (422 otherwise)")
    # An emergency "until cancelled" (up to 24 h) of a programme under a second would make 10^5 plays per device
    emergency_max_plays: int = Field(
        default=21600, ge=1, description="Most repetitions of one emergency per loudspeaker (422 otherwise)")
    relay_allowed_hosts: str = Field(
        default="", description="Relay stream servers on the station's own network the station may open anyway "
        "(comma-separated host or host:port); other local addresses are refused as relay streams")
    device_offline_after_s: int = 900  # three missed 300 s heartbeats (docs/device-protocol.md §6)
    http_keep_alive_s: int = Field(
        default=75, description="Idle keep-alive connections are closed after this many seconds (`loa serve`, "
        "`loa demo`); behind a proxy it must exceed the proxy's idle timeout (deploy/Caddyfile: 30 s), or the proxy reuses a closing connection")
    device_nudge_sync: bool = False  # publish nudges inside the request (tests); default: a background thread
    # Device endpoints under abuse (docs/device-protocol.md §2, §8)
    enroll_start_limit: int = Field(default=10, ge=1, description="`enroll/start` calls per client address per "
                                    "10 minutes (429 rate_limited above); counted per API process")
    enroll_poll_limit: int = Field(default=120, ge=1, description="`enroll/poll` calls per client address per "
                                   "minute (a box polls every 5 s); counted per API process")
    device_max_streams: int = Field(default=3, ge=1, description="open SSE streams per device in each API "
                                    "process: a new one closes the oldest")
    # Operations (docs/operations.md): GET /metrics needs this bearer token; unset = loopback clients only
    metrics_token: str | None = Field(default=None, description="Bearer token for GET /metrics (Prometheus)")
    # Interchange between stations (docs/interchange.md): a commune station under a province/district station
    interchange_station_id: str | None = Field(
        default=None, description="This station's id in the interchange (default: made once and kept in "
        "the database)")
    interchange_retry_base_s: float = Field(default=10.0, gt=0, description="First retry delay of the outbox "
                                            "after a peer could not be reached, doubled per failure")
    interchange_retry_max_s: float = Field(default=900.0, gt=0, description="Longest outbox retry delay: a peer "
                                           "back online is reached within this")
    interchange_clock_skew_s: float = Field(default=600.0, gt=0, description="A signed message or request "
                                            "whose time differs from ours by more is refused")
    interchange_poll_s: float = Field(default=60.0, gt=0, description="How often the outbox collects status "
                                      "updates and reports to send up")
    interchange_timeout_s: float = Field(default=30.0, gt=0, description="Seconds per interchange HTTP request")
    interchange_outbox_retention_days: float = Field(
        default=30.0, gt=0, description="Delivered outbox messages older than this are deleted by the outbox's "
        "pump (never undelivered ones, nor one the next collection would send again)")
    # Live and relayed streams (issue 15, docs/operations.md): embedded, the station serves its mounts itself;
    # at scale its ffmpeg pushes each mount to Icecast as a source client and agents listen there
    stream_icecast_source_url: str | None = Field(
        default=None, description="Icecast source URL the stream hub pushes to, icecast://source:PASSWORD@host:port "
        "(unset: agents listen on the station's own device route)")
    stream_icecast_listen_url: str | None = Field(
        default=None, description="Base URL agents use to listen to Icecast mounts, http://host:port")
    # Scheduled relays (issue 15): the station pulls each radio once and the loudspeakers listen to its mount
    # (on the station, or on Icecast when the two settings above are set); false: each loudspeaker pulls it
    relay_via_station: bool = Field(
        default=True, description="Relays go through the station's stream hub (one pull per radio); false: each "
        "loudspeaker opens the radio's URL itself")
    relay_runner: bool = Field(
        default=True, description="This process opens the stream hub's mounts of scheduled relays; at scale with "
        "Icecast set it true in exactly one API replica (Icecast takes one source per mount)")
    relay_runner_interval_s: float = Field(
        default=5.0, gt=0, description="How often the relay runner opens the mounts of relays due within 20 s "
        "and opens again one whose radio dropped")
    live_max_minutes: float = Field(
        default=120, gt=0, description="A live session ends by itself after this many minutes")
    live_link_timeout_s: float = Field(
        default=3.0, gt=0, description="A live session ends when the phone sent nothing this long (link lost)")
    live_first_input_timeout_s: float = Field(
        default=15.0, gt=0, description="A live session whose phone has not sent its first audio this long after "
        "going on air ends (link lost); from the first audio on, `LOA_LIVE_LINK_TIMEOUT_S` applies")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError("LOA_PUBLIC_URL must be like https://loa.example.vn (no query)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        """A typo must stop the server, not silently trust nobody (or everybody)."""
        for part in value.replace(";", ",").split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError → a clear startup error
        return value

    @classmethod
    def load(cls, data_dir_option: str | os.PathLike | None = None, **overrides) -> "Settings":
        """Settings for a `loa` command: the data directory by the shared rule, the rest from LOA_*."""
        return cls(data_dir=data_dir(data_dir_option), **overrides)

    @property
    def resolved_data_dir(self) -> Path:
        path = Path(self.data_dir).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'loa.db'}"

    @property
    def audio_dir(self) -> Path:
        return self.resolved_data_dir / "audio"

    @property
    def tmp_dir(self) -> Path:
        """Uploads land here first; same filesystem as the store so renames are atomic."""
        path = self.resolved_data_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
