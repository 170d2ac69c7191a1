"""Atomic file writes, shared by the station (signing keys) and the agent (state), which installs alone.

Written to a temporary file in the same folder with its final mode from the first byte, fsynced, then renamed:
a crash never leaves a half-written file under the final name, and a private key is never world-readable.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
