"""Loaded by Python at start-up when this folder is on PYTHONPATH (only test subprocesses that ask for it, see
loa_render_cache.env): when LOA_TEST_RENDER_CACHE is set, content.pipeline gets the shared render cache as soon
as something imports it. Nothing is imported before that, so agents and other children start as fast as ever."""
from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Callable, Sequence

_TARGET = "content.pipeline"


def _then_patch(load: Callable[[ModuleType], None], root: Path) -> Callable[[ModuleType], None]:
    def exec_module(module: ModuleType) -> None:
        load(module)
        import loa_render_cache

        loa_render_cache.patch(module, root)

    return exec_module


class _PatchPipeline(MetaPathFinder):
    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if fullname != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader.exec_module = _then_patch(spec.loader.exec_module, self.root)  # type: ignore[method-assign]
                return spec
        return None


if os.environ.get("LOA_TEST_RENDER_CACHE"):
    sys.meta_path.insert(0, _PatchPipeline(Path(os.environ["LOA_TEST_RENDER_CACHE"])))
