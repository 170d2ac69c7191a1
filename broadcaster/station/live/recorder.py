"""The session's recording: what the loudspeakers got (the hub's levelled MP3), written to a work file as it
airs and moved into the content store when the session ends (nothing half-written is ever in the store)."""
from __future__ import annotations

import shutil
import threading
from typing import Iterator

from broadcaster.station.streams import Mount
from content.store import AudioStore


class Recorder:
    def __init__(self, mount: Mount, store: AudioStore, work_name: str) -> None:
        self.store = store
        self.dir = store.temp_dir()
        self.path = self.dir / f"{work_name}.mp3"
        self.bytes = 0
        chunks = mount.listen_sync()  # listening from now: before the first byte is fed
        self._thread = threading.Thread(target=self._run, args=(chunks,), daemon=True, name=f"rec-{work_name}")
        self._thread.start()

    def _run(self, chunks: Iterator[bytes]) -> None:
        with open(self.path, "wb") as fh:
            for chunk in chunks:  # ends when the mount ends
                fh.write(chunk)
                self.bytes += len(chunk)

    def finish(self) -> str | None:
        """After the mount closed: the recording's sha256 in the store, or None if nothing was recorded."""
        self._thread.join(timeout=10)
        try:
            if self.bytes == 0 or not self.path.exists():
                return None
            return self.store.put_file(self.path, "mp3", move=True)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
