"""Announcement packs: ready-to-air texts shipped with Loa (one TOML file per announcement).

A pack is a folder with `pack.toml` (id, title, language, review date) and one `<slug>.toml` per announcement.
Importing a pack into a commune creates its items as drafts; a cadre still approves each one before it airs.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKS_DIR = Path(__file__).resolve().parent
KINDS = {"directive", "guidance", "emergency", "news", "chime", "music"}
_REQUIRED = ("slug", "topic", "audience", "kind", "title", "title_en", "review_date", "text")


class PackError(ValueError):
    pass


@dataclass(frozen=True)
class PackItem:
    slug: str
    topic: str
    audience: str
    kind: str
    title: str
    title_en: str
    review_date: dt.date
    text: str
    language: str = "vi"


@dataclass(frozen=True)
class Pack:
    id: str
    title: str
    title_en: str
    language: str
    review_date: dt.date
    items: tuple[PackItem, ...]


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"{path.name}: {exc}") from exc


def load_pack(folder: str | Path) -> Pack:
    """Read and validate a pack; any missing field or bad value names the file it is in."""
    folder = Path(folder)
    meta = _read(folder / "pack.toml")
    for key in ("id", "title", "title_en", "language", "review_date"):
        if key not in meta:
            raise PackError(f"pack.toml: thiếu trường / missing field {key!r}")
    items = []
    for path in sorted(folder.glob("*.toml")):
        if path.name == "pack.toml":
            continue
        raw = _read(path)
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise PackError(f"{path.name}: thiếu trường / missing fields {missing}")
        if raw["kind"] not in KINDS:
            raise PackError(f"{path.name}: loại không hợp lệ / unknown kind {raw['kind']!r}")
        if raw["slug"] != path.stem:
            raise PackError(f"{path.name}: slug {raw['slug']!r} must match the file name")
        if not isinstance(raw["review_date"], dt.date):
            raise PackError(f"{path.name}: review_date must be a date (YYYY-MM-DD)")
        text = " ".join(line.strip() for line in raw["text"].strip().splitlines() if line.strip())
        if not text:
            raise PackError(f"{path.name}: văn bản trống / empty text")
        items.append(
            PackItem(
                slug=raw["slug"], topic=raw["topic"], audience=raw["audience"], kind=raw["kind"],
                title=raw["title"], title_en=raw["title_en"], review_date=raw["review_date"],
                text=text, language=raw.get("language", meta["language"]),
            )
        )
    if not items:
        raise PackError(f"{folder.name}: gói không có bản tin nào / the pack has no announcements")
    return Pack(meta["id"], meta["title"], meta["title_en"], meta["language"], meta["review_date"], tuple(items))


def builtin_packs() -> list[Pack]:
    return [load_pack(p) for p in sorted(PACKS_DIR.iterdir()) if (p / "pack.toml").is_file()]
