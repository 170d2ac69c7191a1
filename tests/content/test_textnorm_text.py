"""Whole-text behaviour: cleaning, sentence splitting, long sentences, regions, a 20,000-character directive."""

import dataclasses
import re
import unicodedata

import pytest

from content.textnorm import NormalizedText, normalize, region_for_voice

SPEAKABLE = re.compile(r"[^\W\d_]+(?:,? [^\W\d_]+)*")  # words, single spaces, commas; nothing else


@pytest.mark.parametrize(
    ("voice", "region"),
    [("vi-vn-x-south", "south"), ("VI-VN-X-SOUTH", "south"), ("vi-vn-x-central", "north"), ("vi", "north"),
     (None, "north"), ("", "north")],
)
def test_region_for_voice(voice: str | None, region: str) -> None:
    assert region_for_voice(voice) == region


def test_normalized_text_is_frozen_and_joins_with_full_stops() -> None:
    result = normalize("Một câu. Câu hai!")
    assert result == NormalizedText(sentences=["Một câu", "Câu hai"])
    assert result.text == "Một câu. Câu hai"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.sentences = []  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Trời nắng! Bạn đã cài chưa? Xong rồi... Tiếp theo; hết.", ["Trời nắng", "Bạn đã cài chưa", "Xong rồi",
                                                                    "Tiếp theo", "hết"]),
        ("Dòng một\nDòng hai\n\n\nDòng ba", ["Dòng một", "Dòng hai", "Dòng ba"]),
        ("Giá 1.500 đồng. Hết", ["Giá một nghìn năm trăm đồng", "Hết"]),
        ("Đạt 51,4 %. Hết", ["Đạt năm mươi mốt phẩy bốn phần trăm", "Hết"]),
        ("Ngày 15.8.2025 họp. Hết", ["Ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi lăm họp", "Hết"]),
        ("TP. Lào Cai và Tp. Hà Nội. Hết", ["thành phố Lào Cai và thành phố Hà Nội", "Hết"]),
        ("Truy cập dichvucong.gov.vn để nộp. Hết", ["Truy cập dịch vụ công chấm gốp chấm vê en để nộp", "Hết"]),
        ("Giấy tờ v.v. và hồ sơ. Cây trồng v.v. Hết", ["Giấy tờ vân vân và hồ sơ", "Cây trồng vân vân", "Hết"]),
        ("Điều 3. Tổ chức thực hiện", ["Điều ba", "Tổ chức thực hiện"]),
    ],
)
def test_sentence_splitting(text: str, sentences: list[str]) -> None:
    assert normalize(text).sentences == sentences


def test_bullets_dashes_and_list_numbers_at_line_starts_are_dropped() -> None:
    text = "THÔNG BÁO\n- Địa điểm: nhà văn hóa\n• Thời gian: 7h\n* Mang theo CCCD\n+ Mang bút\n1. Mục đích\n1.2. Yêu cầu\na) Nội dung\nII. TỔ CHỨC\n-Đúng giờ"
    assert normalize(text).sentences == [
        "thông báo", "Địa điểm, nhà văn hóa", "Thời gian, bảy giờ", "Mang theo căn cước công dân", "Mang bút",
        "Mục đích", "Yêu cầu", "Nội dung", "tổ chức", "Đúng giờ",
    ]


def test_a_dash_inside_a_sentence_is_a_pause() -> None:
    assert normalize("Ún Tà - Cốc San").text == "Ún Tà, Cốc San"


def test_emoji_control_and_zero_width_characters_are_dropped() -> None:
    text = "Bà con 👨‍👩‍👧 chú ý\u200b!\u0007 Tiêm\u00ad phòng 💉💉 ngay 1️⃣ lần\ufeff\u202e. 🙏"
    assert normalize(text).sentences == ["Bà con chú ý", "Tiêm phòng ngay một lần"]


def test_only_emoji_gives_no_sentences() -> None:
    assert normalize("😀 👍\n\n🎉").sentences == []
    assert normalize("").text == ""


def test_nfd_input_gives_the_same_result_as_nfc() -> None:
    nfc = "Ủy ban nhân dân xã Cốc San thông báo: tháng 4/2025 tiêm phòng dịch cho đàn gia súc."
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    result = normalize(nfd)
    assert result == normalize(nfc)
    assert result.text == unicodedata.normalize("NFC", result.text)
    assert "tháng tư năm hai nghìn không trăm hai mươi lăm" in result.text


def test_whitespace_is_collapsed() -> None:
    assert normalize("Bà\u00a0con   \t chú\u2003ý").text == "Bà con chú ý"


def test_quotes_and_brackets() -> None:
    assert normalize('Ứng dụng “VNeID” (định danh điện tử)').text == "Ứng dụng vê nê ai đi, định danh điện tử"


def test_long_sentences_are_cut_at_commas() -> None:
    sentence = ", ".join(f"thôn số {i} tổ chức họp dân và tuyên truyền" for i in range(1, 40)) + "."
    result = normalize(sentence)
    assert len(result.sentences) > 1
    assert all(len(s) <= 400 for s in result.sentences)
    # nothing lost: every item is still there, in order
    joined = ", ".join(result.sentences)
    assert joined.count("tổ chức họp dân") == 39
    assert "ba mươi chín tổ chức" in joined


def test_a_long_run_without_commas_is_still_cut() -> None:
    result = normalize(" ".join(["tuyên truyền"] * 200))
    assert all(len(s) <= 400 for s in result.sentences)
    assert " ".join(result.sentences).split() == ["tuyên", "truyền"] * 200


DIRECTIVE_PARAGRAPH = (
    "Thực hiện Kế hoạch số 125/KH-UBND ngày 15/8/2025 của UBND tỉnh, UBND xã Cốc San thông báo: từ 7h30 đến 11h00 "
    "thứ 2 ngày 01/9/2025, tại nhà văn hóa thôn Ún Tà, Đoàn TNCS Hồ Chí Minh phối hợp BHXH hướng dẫn bà con cài "
    "VNeID, VSSID, nộp hồ sơ trên dichvucong.gov.vn; lệ phí 50.000đ/hồ sơ. Tỷ lệ hồ sơ trực tuyến đạt 97 % "
    "(1.070/1.099). Mọi thắc mắc liên hệ 0912 345 678 hoặc gọi 113 😀.\n"
    "- Diện tích gieo trồng 5 ha, nhiệt độ 30°C, lượng mưa 50 mm, 3-4 lần mỗi quý IV.\n"
)


@pytest.mark.parametrize("region", ["north", "south"])
def test_a_20000_character_directive(region: str) -> None:
    text = (DIRECTIVE_PARAGRAPH * 60)[:20000]
    assert len(text) == 20000
    result = normalize(text, region)
    assert result.sentences, "no sentences"
    for sentence in result.sentences:
        assert sentence and len(sentence) <= 400
        assert SPEAKABLE.fullmatch(sentence), sentence
        assert sentence == unicodedata.normalize("NFC", sentence)
    spoken = result.text
    assert not re.search(r"\d", spoken)
    thousand = "nghìn" if region == "north" else "ngàn"
    expected = {
        "UBND xã Cốc San": "ủy ban nhân dân xã Cốc San",
        "VNeID": "vê nê ai đi",
        "0912 345 678": "không chín một hai, ba bốn năm, sáu bảy tám",
        "50.000đ/hồ sơ": f"năm mươi {thousand} đồng một hồ sơ",
        "15/8/2025": f"ngày mười lăm tháng tám năm hai {thousand} không trăm hai mươi lăm",
        "quý IV": "quý bốn",
        "3-4 lần": "ba đến bốn lần",
    }
    for written, said in expected.items():
        assert text.count(written) >= 40
        assert spoken.count(said) == text.count(written), written
    assert ("nghìn" in spoken) == (region == "north")


PIECES = [
    "1.279", "51,4", "%", "15/8/2025", "7h30", "14:00", "-", "/", "0912 345 678", "113", "gọi", "UBND", "VNeID",
    "50.000đ", "km", "5", "m2", "°C", "quý", "IV", "thứ", "4", "(", ")", "...", "?", "!", ";", ":", "😀", "\u200b",
    "\n", "- ", "• ", "ABCD", "THÔNG BÁO", "x", "&", "@", "+84", "1900", "v.v.", "TP.", "2,5", "3.2.1", "\t", "\"",
    "ngày", "tháng", "năm", "đồng", "Đ/c", "H5N1", "COVID-19", "dichvucong.gov.vn", "1.000.000.000", "0,05", "24/7",
    "²", "½", "Ⅳ", "٣", "m²", "x²", "a½b", "_", "$", "€", "№", "≥", "1️⃣", "\u0301", "e\u0302\u0301",
]


def test_any_mix_of_pieces_gives_only_speakable_sentences() -> None:
    import random

    rng = random.Random(20251122)
    for _ in range(400):
        text = "".join(rng.choice(PIECES) + rng.choice(["", " ", " ", ", "]) for _ in range(rng.randint(1, 30)))
        for region in ("north", "south"):
            result = normalize(text, region)
            for sentence in result.sentences:
                assert SPEAKABLE.fullmatch(sentence), (text, sentence)
                assert len(sentence) <= 400
