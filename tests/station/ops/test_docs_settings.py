"""docs/operations.md lists every LOA_* setting with its default: the table is generated from
loa.settings.Settings (station/ops/envdoc.py) and must equal what is in the document."""
from __future__ import annotations

from pathlib import Path

from station.ops import envdoc
from loa.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"


def test_operations_doc_lists_every_setting():
    text = DOC.read_text("utf-8")
    assert envdoc.replace_block(text) == text, (
        "docs/operations.md's settings table is stale: run "
        "`python -c \"from station.ops.envdoc import *; import pathlib; p=pathlib.Path('docs/operations.md'); "
        "p.write_text(replace_block(p.read_text()))\"`")
    for name in Settings.model_fields:
        assert f"`LOA_{name.upper()}`" in text


def test_a_new_setting_without_description_is_caught(monkeypatch):
    from pydantic.fields import FieldInfo

    fields = dict(Settings.model_fields)
    fields["brand_new_knob"] = FieldInfo(annotation=int, default=1)
    monkeypatch.setattr(Settings, "model_fields", fields, raising=False)
    try:
        envdoc.settings_table()
    except KeyError as exc:
        assert "brand_new_knob" in str(exc)
    else:
        raise AssertionError("a setting without a description was accepted")
