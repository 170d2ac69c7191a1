"""Station settings from the environment (LOA_*) and the command line; one place, documented in docs/api.md.

`data_dir(explicit)` stays the single rule every `loa` command uses to find its data directory:
--data-dir, else LOA_DATA_DIR, else ./data. `Settings` gathers the rest (database, timezone, limits, auth).
"""
from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field
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
    # Background jobs
    worker_enabled: bool = True
    worker_poll_seconds: float = 1.0
    job_lease_seconds: int = 300
    job_max_attempts: int = 5
    job_backoff_seconds: float = 5.0
    # Rendering
    tts_cache_dir: Path | None = None
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
    device_offline_after_s: int = 900  # three missed 300 s heartbeats (docs/device-protocol.md §6)
    http_keep_alive_s: int = Field(
        default=75, description="Idle keep-alive connections are closed after this many seconds; behind a proxy it "
        "must exceed the proxy's idle timeout (deploy/Caddyfile: 30 s), or the proxy reuses a closing connection")
    device_nudge_sync: bool = False  # publish nudges inside the request (tests); default: a background thread
    # Operations (docs/operations.md): GET /metrics needs this bearer token; unset = loopback clients only
    metrics_token: str | None = Field(default=None, description="Bearer token for GET /metrics (Prometheus)")

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
