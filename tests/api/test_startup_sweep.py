"""At start the station removes what a crash left half-written in the audio store (`.tmp-*` older than an hour),
and keeps what is younger (another process may be writing it now) and every real audio file."""
from __future__ import annotations

import os
import time

from starlette.testclient import TestClient


def test_start_sweeps_old_temp_files_from_the_audio_store(settings, clock):
    from api.app import create_app

    shard = settings.audio_dir / "ab" / "cd"
    shard.mkdir(parents=True)
    old, young, real = shard / ".tmp-crashed", shard / ".tmp-writing", shard / ("ab" * 32 + ".ogg")
    for path in (old, young, real):
        path.write_bytes(b"x" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(real, (two_hours_ago, two_hours_ago))
    with TestClient(create_app(settings, clock=clock)):
        pass
    assert not old.exists() and young.exists() and real.exists()
