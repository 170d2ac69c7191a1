"""The shipped guidance pack: valid metadata, and every announcement 45–120 s when spoken."""
from __future__ import annotations

import datetime as dt

import pytest

from content.packs import PackError, builtin_packs, load_pack
from content.textnorm import normalize
from content.tts.espeak import synthesize_pcm

PACKS = builtin_packs()
ITEMS = [item for pack in PACKS for item in pack.items]
REQUIRED_TOPICS = {"vneid", "vssid", "public-services", "scams", "cashless", "disaster", "e-health"}


def test_pack_covers_every_required_topic():
    assert REQUIRED_TOPICS <= {item.topic for item in ITEMS}


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.slug)
def test_announcement_reads_in_45_to_120_seconds(item):
    # Spoken at the offline voice's default pace, after normalization (numbers and names expand to words).
    spoken = normalize(item.text, region="north").text
    duration = synthesize_pcm(spoken, "vi").duration_s
    assert 45.0 <= duration <= 120.0, f"{item.slug}: {duration:.1f} s"


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.slug)
def test_announcement_is_dated_and_reviewed(item):
    assert item.review_date <= dt.date(2027, 12, 31)
    assert item.title and item.title_en and item.audience


def test_bad_pack_names_the_file(tmp_path):
    (tmp_path / "pack.toml").write_text('id = "x"\ntitle = "x"\ntitle_en = "x"\nlanguage = "vi"\nreview_date = 2026-01-01\n')
    (tmp_path / "a.toml").write_text('slug = "a"\ntopic = "t"\n')
    with pytest.raises(PackError, match="a.toml"):
        load_pack(tmp_path)


def test_slug_must_match_file_name(tmp_path):
    (tmp_path / "pack.toml").write_text('id = "x"\ntitle = "x"\ntitle_en = "x"\nlanguage = "vi"\nreview_date = 2026-01-01\n')
    (tmp_path / "a.toml").write_text(
        'slug = "b"\ntopic = "t"\naudience = "a"\nkind = "guidance"\ntitle = "t"\ntitle_en = "t"\n'
        'review_date = 2026-01-01\ntext = "Xin chào"\n'
    )
    with pytest.raises(PackError, match="slug"):
        load_pack(tmp_path)
