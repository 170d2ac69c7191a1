"""A cache of mastered text renderings shared by every process of one test run (workers and the `loa demo`
subprocesses), so that the same speech is mastered once per run, not once per test.

The demo seeds the guidance pack (11 announcements, ~10 CPU-seconds of mastering through ffmpeg) and four demo
tests seed it, in four processes on up to four workers. With the cache the first of them renders and masters
as ever; the others get the same speech from the shared speech cache and the mastered file the first one made.

Why it cannot serve the wrong audio: the key is the speech itself (its samples, rate, engine, voice, speed) and
the mastering settings (with the chime file's bytes), the cache lives in this run's temp dir (one version of the
code), and what it hands over is put into the caller's store under its sha256, which must equal the sha256 in
the cached facts. Only tests that ask for it use it: in-process for the length of one test (tests/station/demo/conftest.py),
and in a subprocess started with `env()`, where `sitecustomize.py` in this folder installs it when
content.pipeline is first imported. This module imports nothing heavy at load (it runs in those children)."""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

ENV = "LOA_TEST_RENDER_CACHE"
HOOKS = Path(__file__).resolve().parent


def env(root: Path) -> dict[str, str]:
    """Environment entries that make a `python -m station.cli.main …` child use the cache at `root`."""
    path = os.environ.get("PYTHONPATH", "")
    return {ENV: str(root), "PYTHONPATH": os.pathsep.join(p for p in (str(HOOKS), path) if p)}


def _key(speech: Any, settings: Any) -> str:
    import numpy as np

    h = hashlib.sha256()
    samples = np.ascontiguousarray(speech.pcm.samples)
    h.update(repr((speech.engine, speech.voice, speech.speed, speech.pcm.rate, samples.shape, samples.dtype.str,
                   dataclasses.astuple(settings))).encode())
    h.update(samples.tobytes())
    if settings.chime_path:
        h.update(Path(settings.chime_path).read_bytes())
    return h.hexdigest()


def patch(pipeline: ModuleType, root: Path) -> None:
    """Replace `pipeline.render_text` (callers import it at call time) with the caching one, for good."""
    pipeline.render_text = caching(pipeline, root)  # type: ignore[attr-defined]


def caching(pipeline: ModuleType, root: Path) -> Callable[..., Any]:
    """`pipeline.render_text`, but mastering through the cache at `root`."""
    from content.store import AudioStore

    cache = AudioStore(root / "store")
    index = root / "index"
    index.mkdir(parents=True, exist_ok=True)

    def render_text(text: str, store: Any, engine: str = "auto", voice: str | None = None, speed: float = 1.0,
                    settings: Any = None, cache_dir: Any = None, lexicon: Any = None) -> Any:
        from content.tts.render import synthesize

        settings = settings if settings is not None else pipeline.MasteringSettings()
        # espeak does not say a text the same way twice (lengths differ by a few ms), so the speech comes from
        # the product's own speech cache (keyed by the normalized text, engine, voice, speed), shared by the run
        # like the mastered files: the first process renders it, the others read it, and the same speech
        # is then mastered once. (The caller's `cache_dir` is not used: its speech would differ.)
        speech = synthesize(text, engine=engine, voice=voice, speed=speed, cache_dir=root / "speech", lexicon=lexicon)
        key = _key(speech, settings)
        with open(index / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait for the first rendering instead of repeating it
            entry = index / f"{key}.sha256"
            if not entry.exists():
                # master exactly the speech the key was made of (render_text's second half)
                facts = pipeline.master_speech(speech, cache, settings)
                entry.write_text(facts.sha256)
            facts = cache.facts(entry.read_text().strip())
            assert facts is not None
            src = cache.path_for(facts.sha256)
            sha256 = store.put_file(src, src.suffix.lstrip("."))
            assert sha256 == facts.sha256, (sha256, facts.sha256)  # the content hash: never other audio
        facts = dataclasses.replace(facts, engine=speech.engine, voice=speech.voice, speed=speech.speed,
                                    skipped_engines=[{"engine": s.engine, "reason": s.reason}
                                                     for s in speech.skipped])
        store.put_facts(facts)
        return facts

    return render_text

