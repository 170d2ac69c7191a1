"""Vietnamese number reading, both regions, checked word for word."""

import pytest

from content.textnorm import normalize
from content.textnorm.numbers import NORTH, SOUTH, cardinal, digits, ordinal, read_number, roman_to_int


def say(text: str, region: str = "north") -> str:
    return normalize(text, region).text


CARDINALS = [
    (0, "không", "không"),
    (5, "năm", "năm"),
    (10, "mười", "mười"),
    (11, "mười một", "mười một"),
    (14, "mười bốn", "mười bốn"),
    (15, "mười lăm", "mười lăm"),
    (20, "hai mươi", "hai mươi"),
    (21, "hai mươi mốt", "hai mươi mốt"),
    (24, "hai mươi tư", "hai mươi tư"),
    (25, "hai mươi lăm", "hai mươi lăm"),
    (55, "năm mươi lăm", "năm mươi lăm"),
    (100, "một trăm", "một trăm"),
    (101, "một trăm linh một", "một trăm lẻ một"),
    (104, "một trăm linh bốn", "một trăm lẻ bốn"),
    (105, "một trăm linh năm", "một trăm lẻ năm"),
    (110, "một trăm mười", "một trăm mười"),
    (115, "một trăm mười lăm", "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt", "một trăm hai mươi mốt"),
    (1000, "một nghìn", "một ngàn"),
    (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
    (1010, "một nghìn không trăm mười", "một ngàn không trăm mười"),
    (1279, "một nghìn hai trăm bảy mươi chín", "một ngàn hai trăm bảy mươi chín"),
    (2025, "hai nghìn không trăm hai mươi lăm", "hai ngàn không trăm hai mươi lăm"),
    (2114, "hai nghìn một trăm mười bốn", "hai ngàn một trăm mười bốn"),
    (10000, "mười nghìn", "mười ngàn"),
    (15000, "mười lăm nghìn", "mười lăm ngàn"),
    (21000, "hai mươi mốt nghìn", "hai mươi mốt ngàn"),
    (1500000, "một triệu năm trăm nghìn", "một triệu năm trăm ngàn"),
    (1005000, "một triệu không trăm linh năm nghìn", "một triệu không trăm lẻ năm ngàn"),
    (1000500, "một triệu năm trăm", "một triệu năm trăm"),
    (1000005, "một triệu không trăm linh năm", "một triệu không trăm lẻ năm"),
    (1000000000, "một tỷ", "một tỷ"),
    (1500000000, "một tỷ năm trăm triệu", "một tỷ năm trăm triệu"),
    (2000000001, "hai tỷ không trăm linh một", "hai tỷ không trăm lẻ một"),
    (1000000000000, "một nghìn tỷ", "một ngàn tỷ"),
]


@pytest.mark.parametrize(("n", "north", "south"), CARDINALS)
def test_cardinal_both_regions(n: int, north: str, south: str) -> None:
    assert cardinal(n, NORTH) == north
    assert cardinal(n, SOUTH) == south


WRITTEN = [
    ("0", "không"),
    ("5", "năm"),
    ("1.005", "một nghìn không trăm linh năm"),
    ("1.279", "một nghìn hai trăm bảy mươi chín"),
    ("2.114", "hai nghìn một trăm mười bốn"),
    ("10.000", "mười nghìn"),
    ("1.500.000", "một triệu năm trăm nghìn"),
    ("1.000.000.000", "một tỷ"),
    ("07", "bảy"),
    ("51,4", "năm mươi mốt phẩy bốn"),
    ("60,29", "sáu mươi phẩy hai mươi chín"),
    ("0,05", "không phẩy không năm"),
    ("3,14159", "ba phẩy một bốn một năm chín"),
    ("1.500,5", "một nghìn năm trăm phẩy năm"),
    ("51.4", "năm mươi mốt phẩy bốn"),
    ("3.2.1", "ba chấm hai chấm một"),
    ("-5", "âm năm"),
    ("001234567890", "không không một hai ba bốn năm sáu bảy tám chín không"),
]


@pytest.mark.parametrize(("written", "spoken"), WRITTEN)
def test_read_number_token(written: str, spoken: str) -> None:
    assert read_number(written, NORTH) == spoken


@pytest.mark.parametrize(
    ("text", "north", "south"),
    [
        ("Xã có 1.279 hộ", "Xã có một nghìn hai trăm bảy mươi chín hộ", "Xã có một ngàn hai trăm bảy mươi chín hộ"),
        ("Có 105 người", "Có một trăm linh năm người", "Có một trăm lẻ năm người"),
        ("Tổng 1.005.000 người", "Tổng một triệu không trăm linh năm nghìn người",
         "Tổng một triệu không trăm lẻ năm ngàn người"),
        ("Có 115 tổ với 709 thành viên", "Có một trăm mười lăm tổ với bảy trăm linh chín thành viên",
         "Có một trăm mười lăm tổ với bảy trăm lẻ chín thành viên"),
    ],
)
def test_numbers_in_text_by_region(text: str, north: str, south: str) -> None:
    assert say(text, "north") == north
    assert say(text, "south") == south


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Người Giáy chiếm 51,4 %", "Người Giáy chiếm năm mươi mốt phẩy bốn phần trăm"),
        ("Đạt 97%", "Đạt chín mươi bảy phần trăm"),
        ("Có 60,29% người dân", "Có sáu mươi phẩy hai mươi chín phần trăm người dân"),
        ("Tăng 3-5%", "Tăng ba đến năm phần trăm"),
        ("Lượng mưa 0,5 mm", "Lượng mưa không phẩy năm mi li mét"),
    ],
)
def test_decimals_and_percentages(text: str, spoken: str) -> None:
    assert say(text) == spoken


def test_digits_and_ordinals() -> None:
    assert digits("0912") == "không chín một hai"
    assert [ordinal(n) for n in (1, 2, 3, 4, 5, 10, 14, 21)] == [
        "nhất", "hai", "ba", "tư", "năm", "mười", "mười bốn", "hai mươi mốt",
    ]


@pytest.mark.parametrize(("roman", "value"), [("I", 1), ("IV", 4), ("IX", 9), ("XIII", 13), ("XV", 15), ("XL", 40)])
def test_roman_numerals(roman: str, value: int) -> None:
    assert roman_to_int(roman) == value


@pytest.mark.parametrize("bad", ["IIII", "VX", "IC", "", "ABC"])
def test_roman_numerals_reject_non_canonical(bad: str) -> None:
    assert roman_to_int(bad) is None


def test_unknown_region_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="north"):
        normalize("1", region="west")
