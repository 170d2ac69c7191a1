"""Abbreviations, app and site names, acronym spelling and commune extension files."""

from pathlib import Path

import pytest

from content.textnorm import Lexicon, normalize
from content.textnorm.lexicon import BUILTIN_PATH, read_tsv, spell_letters


def say(text: str, lexicon: Lexicon | None = None) -> str:
    return normalize(text, lexicon=lexicon).text


@pytest.mark.parametrize(
    ("token", "spoken"),
    [
        ("UBND", "ủy ban nhân dân"),
        ("HĐND", "hội đồng nhân dân"),
        ("BHXH", "bảo hiểm xã hội"),
        ("BHYT", "bảo hiểm y tế"),
        ("CCCD", "căn cước công dân"),
        ("MTTQ", "mặt trận tổ quốc"),
        ("THCS", "trung học cơ sở"),
        ("THPT", "trung học phổ thông"),
        ("TNCS", "thanh niên cộng sản"),
        ("ĐTN", "đoàn thanh niên"),
        ("CAND", "công an nhân dân"),
        ("PCCC", "phòng cháy chữa cháy"),
        ("TT-BTTTT", "thông tư bộ thông tin và truyền thông"),
        ("NĐ-CP", "nghị định chính phủ"),
        ("QĐ", "quyết định"),
        ("TTg", "thủ tướng chính phủ"),
        ("HTX", "hợp tác xã"),
    ],
)
def test_builtin_abbreviations(token: str, spoken: str) -> None:
    assert Lexicon.load().expand(token) == spoken
    assert say(f"Theo {token} xã") == f"Theo {spoken} xã"


def test_builtin_lexicon_is_large_enough() -> None:
    assert len(read_tsv(BUILTIN_PATH)) >= 60


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Cài VNeID", "Cài vê nê ai đi"),
        ("Cài VSSID", "Cài vê ét ét ai đi"),
        ("Truy cập dichvucong.gov.vn.", "Truy cập dịch vụ công chấm gốp chấm vê en"),
        ("Nhắn qua Zalo, ZALO hoặc zalo", "Nhắn qua da lô, da lô hoặc da lô"),
        ("Trang Facebook của xã", "Trang phây búc của xã"),
        ("Nhập mã OTP", "Nhập mã ô tê pê"),
        ("Gửi SMS", "Gửi ét em ét"),
        ("Quét mã QR", "Quét mã cu a"),
        ("Dịch COVID-19", "Dịch cô vít mười chín"),
        ("Sóng 4G yếu", "Sóng bốn gờ yếu"),
        ("Công nghiệp 4.0", "Công nghiệp bốn chấm không"),
        ("Xem tại laocai.gov.vn", "Xem tại laocai chấm gốp chấm vê en"),
    ],
)
def test_app_and_site_names(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("QĐ-UBND", "quyết định ủy ban nhân dân"),
        ("KH-UBND", "kế hoạch ủy ban nhân dân"),
        ("PCTT&TKCN", "phòng chống thiên tai và tìm kiếm cứu nạn"),
        ("GD&ĐT", "giáo dục và đào tạo"),
        ("TP.HCM", "thành phố hồ chí minh"),
        ("Đ/c Nguyễn Văn Bình", "đồng chí Nguyễn Văn Bình"),
        ("TP. Lào Cai", "thành phố Lào Cai"),
    ],
)
def test_compound_codes_and_dotted_abbreviations(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Khu B", "Khu bê"),
        ("Tổ ABC", "Tổ a bê xê"),
        ("Mã DFGJ", "Mã dê ép giê di"),
        ("Công ty KLMN", "Công ty ca e lờ em mờ en nờ"),
        ("PQRS", "pê quy e rờ ét xì"),
        ("TVWXYZ", "tê vê vê kép ích xì i dài dét"),
        ("ĐH", "đê hát"),
        ("Virus H5N1", "Virus hát năm en nờ một"),
        ("Ca F0", "Ca ép không"),
    ],
)
def test_unknown_acronyms_are_spelled_with_vietnamese_letter_names(text: str, spoken: str) -> None:
    assert say(text) == spoken


def test_spell_letters_covers_the_alphabet() -> None:
    assert spell_letters("GHKLMN") == "giê hát ca e lờ em mờ en nờ"


def test_all_capital_heading_words_are_read_not_spelled() -> None:
    assert say("THÔNG BÁO KHẨN VỀ VIỆC PHÒNG CHỐNG BÃO") == "thông báo khẩn về việc phòng chống bão"
    assert say("KẾ HOẠCH TRIỂN KHAI CỦA UBND XÃ") == "kế hoạch triển khai của ủy ban nhân dân xã"


def test_ordinary_words_are_not_taken_for_all_capital_keys() -> None:
    # CA (công an) must not swallow the word "ca" (a shift, to sing)
    assert say("Ca trực đêm, đội ca hát") == "Ca trực đêm, đội ca hát"
    assert say("CA xã trực") == "công an xã trực"


def test_commune_file_extends_and_overrides(tmp_path: Path) -> None:
    first = tmp_path / "tinh.tsv"
    first.write_text("# province file\nUBND\tủy ban\nÚT\tÚn Tà thôn\n", encoding="utf-8")
    second = tmp_path / "xa.tsv"
    second.write_text("\nÚT\tthôn Ún Tà\nVNeID\tvê en ây đi\n", encoding="utf-8")
    lexicon = Lexicon.load(first, str(second))
    assert lexicon.expand("UBND") == "ủy ban"                 # province file overrides the built-in
    assert lexicon.expand("ÚT") == "thôn Ún Tà"               # later file overrides the earlier one
    assert lexicon.expand("VNeID") == "vê en ây đi"
    assert lexicon.expand("BHXH") == "bảo hiểm xã hội"        # built-ins still there
    assert say("Họp tại ÚT, cài VNeID", lexicon) == "Họp tại thôn Ún Tà, cài vê en ây đi"
    # the built-in lexicon is not changed by a commune's load
    assert Lexicon.load().expand("UBND") == "ủy ban nhân dân"
    assert Lexicon.load().expand("ÚT") is None


def test_commune_file_in_nfd_matches_nfc_text(tmp_path: Path) -> None:
    import unicodedata

    path = tmp_path / "xa.tsv"
    path.write_text(unicodedata.normalize("NFD", "ĐXM\tđội xung kích mới\n"), encoding="utf-8")
    assert Lexicon.load(path).expand("ĐXM") == "đội xung kích mới"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("UBND\tủy ban nhân dân\nXYZ không có tab\n", 2),
        ("# comment\n\nABC\t\n", 3),
        ("A B\tcó dấu cách\n", 1),
        ("OK\tđược\nX\ty\tz\n", 2),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, content: str, line: int) -> None:
    path = tmp_path / "hong.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        Lexicon.load(path)
    assert f"{path}:{line}" in str(err.value)
    assert "hong.tsv" in str(err.value)


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.tsv"
    path.write_bytes("UBND\tủy ban\n".encode("utf-16"))
    with pytest.raises(ValueError, match="latin.tsv"):
        Lexicon.load(path)


def test_expand_unknown_is_none() -> None:
    assert Lexicon.load().expand("KHÔNGCÓ") is None


def test_missing_file_and_bom(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="khong-co.tsv"):
        Lexicon.load(tmp_path / "khong-co.tsv")
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffÚT\tthôn Ún Tà\r\nXY\tích i\r\n".encode("utf-8"))
    lexicon = Lexicon.load(path)
    assert lexicon.expand("ÚT") == "thôn Ún Tà"
    assert lexicon.expand("XY") == "ích i"
