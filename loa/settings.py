"""Station settings from the environment (LOA_*) and the command line; one place, documented in docs/operations.md."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the station keeps its database and audio: --data-dir, else LOA_DATA_DIR, else ./data."""
    chosen = explicit or os.environ.get("LOA_DATA_DIR") or "data"
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
