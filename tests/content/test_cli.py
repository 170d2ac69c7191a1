"""The content commands as a user runs them: real processes, real audio, one-line errors, no stray files."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def loa(*args: str, data_dir, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOA_DATA_DIR": str(data_dir), "LOA_TTS_ONLINE": "0"}
    return subprocess.run([sys.executable, "-m", "station.cli.main", *args], capture_output=True, text=True,
                          input=stdin, env=env, timeout=120)


def test_normalize_text_prints_what_will_be_spoken(tmp_path):
    r = loa("normalize-text", "Cốc San có 1.279 hộ. Gọi 0912 345 678.", data_dir=tmp_path)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["Cốc San có một nghìn hai trăm bảy mươi chín hộ",
                                     "Gọi không chín một hai, ba bốn năm, sáu bảy tám"]
    south = loa("normalize-text", "--region", "south", "105 người", data_dir=tmp_path)
    assert south.stdout.strip() == "một trăm lẻ năm người"


def test_say_json_prints_the_stored_facts(tmp_path):
    out = tmp_path / "tin.ogg"
    r = loa("say", "Xin chào bà con thôn Ún Tà.", "-o", str(out), "--engine", "espeak", "--json", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout)
    assert facts["engine"] == "espeak" and facts["voice"] == "vi" and facts["format"] == "ogg-opus"
    assert abs(facts["integrated_lufs"] + 16) <= 0.5 and facts["true_peak_dbtp"] <= -1.0
    assert out.read_bytes()[:4] == b"OggS" and len(out.read_bytes()) == facts["size_bytes"]
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() == facts["sha256"]


def test_master_to_mp3_by_file_name(tmp_path):
    src = tmp_path / "tin.ogg"
    assert loa("say", "Họp thôn lúc 7h30.", "-o", str(src), "--engine", "espeak", data_dir=tmp_path).returncode == 0
    out = tmp_path / "tin.mp3"
    r = loa("master", str(src), "-o", str(out), "--json", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["format"] == "mp3" and out.stat().st_size > 0


@pytest.mark.parametrize("content, code_words", [(b"", "rỗng"), (b"khong phai am thanh" * 50, "không phải")])
def test_bad_recording_is_one_line_and_no_output(tmp_path, content, code_words):
    src = tmp_path / "ghi-am.m4a"
    src.write_bytes(content)
    out = tmp_path / "ra.ogg"
    r = loa("master", str(src), "-o", str(out), data_dir=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Lỗi / Error:") and code_words in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".ra.ogg.*"))


def test_unknown_voice_and_empty_text_fail_cleanly(tmp_path):
    out = tmp_path / "x.ogg"
    r = loa("say", "Xin chào", "-o", str(out), "--engine", "espeak", "--voice", "klingon", data_dir=tmp_path)
    assert r.returncode == 1 and "klingon" in r.stderr and not out.exists()
    r = loa("say", "  🙂  ", "-o", str(out), "--engine", "espeak", data_dir=tmp_path)
    assert r.returncode == 1 and "trống" in r.stderr and not out.exists()
