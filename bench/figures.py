"""The one line a benchmark prints per figure (the team's format):
{"figure": …, "value": …, "unit": …, "target": "< 1.0", "baseline": {"name": …, "value": …}}"""
from __future__ import annotations

import json
from typing import Any


def emit(figure: str, value: Any, unit: str, target: str, baseline_name: str | None = None,
         baseline_value: Any = None, **extra: Any) -> None:
    line: dict[str, Any] = {"figure": figure, "value": value, "unit": unit, "target": target}
    if baseline_name:
        line["baseline"] = {"name": baseline_name, "value": baseline_value}
    line.update(extra)
    print(json.dumps(line, ensure_ascii=False), flush=True)
