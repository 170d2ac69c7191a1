"""Content-addressed audio store: every mastered file lives at `<root>/ab/cd/<sha256>.<ext>`.

The name is the sha256 of the encoded bytes, so a device can verify what it downloaded, the same audio is
stored once, and a file never changes under its name. Writes go to a temp file in the destination directory,
then fsync and `os.replace`: a crash leaves either the whole file or nothing under the final name (stray
`.tmp-*` files are removed by `sweep_temp`). The measured AudioFacts are kept beside it as `<sha256>.json`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

from content.types import AudioFacts
from loa.errors import LoaError

EXTENSIONS = ("ogg", "mp3")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = ".tmp-"


class StoreError(LoaError, LookupError):
    """A file the audio store does not hold, or a name that is not a sha256 (permanent: asking again gives the
    same answer)."""

    status = 404

    def __init__(self, message: str, code: str = "audio_not_found") -> None:
        super().__init__(message)
        vi, en = _STORE_MESSAGES[code]
        self._describe(code, f"{vi}: {message}", f"{en}: {message}")
        if code != "audio_not_found":
            self.status = 422  # a bad name, not a missing file


_STORE_MESSAGES = {
    "audio_not_found": ("Kho không có tệp âm thanh này", "The store holds no such audio file"),
    "audio_name_invalid": ("Tên tệp âm thanh không phải mã sha256", "The audio name is not a sha256"),
    "audio_format_unsupported": ("Kho không lưu định dạng này", "The store keeps no such format"),
}


def _check_sha(sha256: str) -> str:
    if not _SHA_RE.match(sha256):
        raise StoreError(f"not a sha256: {sha256!r}", "audio_name_invalid")
    return sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class AudioStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths ----------------------------------------------------------------------------------------
    def _dir(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4]

    def path_for(self, sha256: str, ext: str | None = None) -> Path:
        """Where the file for `sha256` is (or would be). Without `ext`, the one that exists (ogg first)."""
        _check_sha(sha256)
        if ext is not None:
            if ext not in EXTENSIONS:
                raise StoreError(f"unsupported extension {ext!r}", "audio_format_unsupported")
            return self._dir(sha256) / f"{sha256}.{ext}"
        for candidate in EXTENSIONS:
            path = self._dir(sha256) / f"{sha256}.{candidate}"
            if path.exists():
                return path
        raise StoreError(f"no audio {sha256} in the store")

    def facts_path(self, sha256: str) -> Path:
        return self._dir(_check_sha(sha256)) / f"{sha256}.json"

    def temp_dir(self) -> Path:
        """A new private directory for work files, on the store's filesystem (so `put_file(move=True)` is a
        rename). The caller removes it; `sweep_temp` removes any a crash left behind."""
        return Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))

    # -- queries --------------------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        try:
            self.path_for(sha256)
            return True
        except StoreError:
            return False

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def facts(self, sha256: str) -> AudioFacts | None:
        try:
            data = json.loads(self.facts_path(sha256).read_text("utf-8"))
        except FileNotFoundError:
            return None
        return AudioFacts(**data)

    # -- writes ---------------------------------------------------------------------------------------
    def _atomic_write(self, final: Path, fill: Callable[[BinaryIO], object]) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=final.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(self, src_path: str | os.PathLike[str], ext: str, move: bool = False) -> str:
        """Put an encoded file into the store under its sha256; return the sha256. Same bytes: no rewrite.

        By default the source is copied and left where it is (the caller owns it). With `move=True` (a work
        file on the store's filesystem, e.g. in `temp_dir()`) it is fsynced and renamed into place.
        """
        src = Path(src_path)
        sha256 = _sha256_file(src)
        final = self.path_for(sha256, ext)
        if final.exists() and final.stat().st_size == src.stat().st_size:
            if move:
                src.unlink()
            return sha256
        if move:
            with src.open("rb") as fh:
                os.fsync(fh.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, final)
            os.chmod(final, 0o644)
            _fsync_dir(final.parent)
            return sha256

        def fill(fh: BinaryIO) -> None:
            with src.open("rb") as source:
                shutil.copyfileobj(source, fh, 1 << 20)

        self._atomic_write(final, fill)
        return sha256

    def put_bytes(self, data: bytes, ext: str) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path_for(sha256, ext)
        if not (final.exists() and final.stat().st_size == len(data)):
            self._atomic_write(final, lambda fh: fh.write(data))
        return sha256

    def put_facts(self, facts: AudioFacts) -> None:
        payload = json.dumps(facts.to_dict(), ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        self._atomic_write(self.facts_path(facts.sha256), lambda fh: fh.write(payload))

    def delete(self, sha256: str) -> bool:
        """Remove the audio and its facts; True if anything was there. Empty fan-out directories go too."""
        removed = False
        for ext in EXTENSIONS:
            path = self.path_for(sha256, ext)
            if path.exists():
                path.unlink()
                removed = True
        facts = self.facts_path(sha256)
        if facts.exists():
            facts.unlink()
            removed = True
        for directory in (self._dir(sha256), self._dir(sha256).parent):
            try:
                directory.rmdir()
            except OSError:
                break  # not empty (another file shares the prefix) or already gone
        return removed

    def sweep_temp(self, older_than_s: float = 3600.0, now: float | None = None) -> int:
        """Delete temp files a crash left behind (older than `older_than_s`); return how many."""
        now = time.time() if now is None else now
        count = 0
        for path in list(self.root.rglob(f"{_TMP_PREFIX}*")):
            try:
                if now - path.stat().st_mtime < older_than_s:
                    continue
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                count += 1
            except FileNotFoundError:
                continue  # removed with its directory a moment ago
        return count
