"""Atomic file writes, shared by the station (signing keys) and the agent (state), which installs alone.

Written to a temporary file in the same folder with its final mode from the first byte, fsynced, then renamed:
a crash never leaves a half-written file under the final name, and a private key is never world-readable.
"""
from __future__ import annotations

import itertools
import os
import tempfile
import threading
from pathlib import Path


_serial = itertools.count()


def _temporary(path: Path) -> tuple[int, str]:
    """A new file beside `path` (O_EXCL, private until the chmod). Named by process, thread and a counter
    rather than tempfile.mkstemp's random letters: an agent writes its control file on the path of every
    command, and mkstemp's name generator was a third of that write's time; a leftover of a killed process
    (another pid) can never collide, and a collision within one process is retried with the next number."""
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.{next(_serial)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), tmp
        except FileExistsError:
            continue
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = _temporary(path)
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
