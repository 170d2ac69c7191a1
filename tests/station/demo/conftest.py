"""The demo tests share one mastering of the guidance pack per run (tests/hooks/loa_render_cache.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hooks import loa_render_cache


@pytest.fixture(scope="session")
def render_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole run: under xdist the workers' temp dirs share a parent, this run's."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "loa-render-cache"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def render_cache(render_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The cache in this process for this test; returns the environment entries for a subprocess to use it."""
    import content.pipeline

    monkeypatch.setattr(content.pipeline, "render_text", loa_render_cache.caching(content.pipeline, render_cache_dir))
    return loa_render_cache.env(render_cache_dir)
