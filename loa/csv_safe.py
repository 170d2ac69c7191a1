"""CSV that a spreadsheet cannot run: every cell the station writes goes through `safe_cell`.

A cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip before looking) is read
as a formula by Excel and LibreOffice: a device or village named "=HYPERLINK(…)" would run when a cadre opens
the monthly report. OWASP's advice: prefix such a cell with a single quote, so it is shown as text. Plain numbers
("-3", "+1.5") cannot be formulas and stay numbers.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """`value` unchanged unless it is text a spreadsheet would run: then "'" + value."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell (same `writerow`/`writerows`)."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(stream: Any, **kwargs: Any) -> SafeWriter:
    return SafeWriter(stream, **kwargs)
