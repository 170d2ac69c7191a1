"""Dates, times, ranges, money, units, phone numbers, ordinals and Roman numerals in running text."""

import pytest

from content.textnorm import normalize


def say(text: str, region: str = "north") -> str:
    return normalize(text, region).text


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("15/8/2025", "ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi lăm"),
        ("Họp ngày 15/8/2025", "Họp ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi lăm"),
        ("01/12", "ngày một tháng mười hai"),
        ("Từ 04/4 đến 24/04", "Từ ngày bốn tháng tư đến ngày hai mươi tư tháng tư"),
        ("15-8-2025", "ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi lăm"),
        ("15.8.2025", "ngày mười lăm tháng tám năm hai nghìn không trăm hai mươi lăm"),
        ("tháng 4/2025", "tháng tư năm hai nghìn không trăm hai mươi lăm"),
        ("Kỳ 11/2025", "Kỳ tháng mười một năm hai nghìn không trăm hai mươi lăm"),
        ("15-20/8", "ngày mười lăm đến ngày hai mươi tháng tám"),
        ("ngày 15-20/8/2025", "ngày mười lăm đến ngày hai mươi tháng tám năm hai nghìn không trăm hai mươi lăm"),
        ("từ 28/8 - 2/9", "từ ngày hai mươi tám tháng tám đến ngày hai tháng chín"),
        ("năm 2025", "năm hai nghìn không trăm hai mươi lăm"),
    ],
)
def test_dates(text: str, spoken: str) -> None:
    assert say(text) == spoken


def test_dates_south() -> None:
    assert say("15/8/2025", "south") == "ngày mười lăm tháng tám năm hai ngàn không trăm hai mươi lăm"


@pytest.mark.parametrize(
    "text",
    ["32/8", "15/13", "số 5/2025"],
)
def test_impossible_dates_are_not_dates(text: str) -> None:
    assert "tháng" not in say(text)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("7h30", "bảy giờ ba mươi phút"),
        ("07:30", "bảy giờ ba mươi phút"),
        ("14:00", "mười bốn giờ"),
        ("7h", "bảy giờ"),
        ("lúc 07:05", "lúc bảy giờ năm phút"),
        ("7g30 sáng", "bảy giờ ba mươi phút sáng"),
        ("từ 7h30-11h", "từ bảy giờ ba mươi phút đến mười một giờ"),
        ("12:30 - 13:45", "mười hai giờ ba mươi phút đến mười ba giờ bốn mươi lăm phút"),
        ("7-9h sáng", "bảy đến chín giờ sáng"),
        ("22h ngày 1/9", "hai mươi hai giờ ngày một tháng chín"),
    ],
)
def test_times(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("3-4 lần", "ba đến bốn lần"),
        ("từ 5 đến 10 người", "từ năm đến mười người"),
        ("giai đoạn 2021-2025", "giai đoạn hai nghìn không trăm hai mươi mốt đến hai nghìn không trăm hai mươi lăm"),
        ("20-25°C", "hai mươi đến hai mươi lăm độ xê"),
    ],
)
def test_ranges(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    ("text", "north", "south"),
    [
        ("50.000đ", "năm mươi nghìn đồng", "năm mươi ngàn đồng"),
        ("50.000 đồng", "năm mươi nghìn đồng", "năm mươi ngàn đồng"),
        ("2 triệu VNĐ", "hai triệu đồng", "hai triệu đồng"),
        ("2 triệu VND", "hai triệu đồng", "hai triệu đồng"),
        ("1.500.000 VNĐ", "một triệu năm trăm nghìn đồng", "một triệu năm trăm ngàn đồng"),
        ("2,5 tỷ đồng", "hai phẩy năm tỷ đồng", "hai phẩy năm tỷ đồng"),
        ("50.000đ/người", "năm mươi nghìn đồng một người", "năm mươi ngàn đồng một người"),
        ("20.000 đồng/kg", "hai mươi nghìn đồng một ki lô gam", "hai mươi ngàn đồng một ki lô gam"),
        ("50k", "năm mươi nghìn", "năm mươi ngàn"),
        ("100 USD", "một trăm đô la mỹ", "một trăm đô la mỹ"),
        ("$100", "một trăm đô la", "một trăm đô la"),
    ],
)
def test_money(text: str, north: str, south: str) -> None:
    assert say(text, "north") == north
    assert say(text, "south") == south


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("5 km", "năm ki lô mét"),
        ("5 ha", "năm héc ta"),
        ("12kg", "mười hai ki lô gam"),
        ("100 m2", "một trăm mét vuông"),
        ("100 m²", "một trăm mét vuông"),
        ("3 m³", "ba mét khối"),
        ("15 cm", "mười lăm xăng ti mét"),
        ("50 mm", "năm mươi mi li mét"),
        ("2 l", "hai lít"),
        ("500 ml", "năm trăm mi li lít"),
        ("30°C", "ba mươi độ xê"),
        ("30 độ C", "ba mươi độ xê"),
        ("-2°C", "âm hai độ xê"),
        ("60 km/h", "sáu mươi ki lô mét trên giờ"),
        ("6 tấn/ha", "sáu tấn trên héc ta"),
        ("2,5 kW", "hai phẩy năm ki lô oát"),
    ],
)
def test_units_after_numbers(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    "text",
    ["Mã số m và l", "Bà con ha ha cười", "Đội kg"],
)
def test_unit_symbols_alone_are_left_alone(text: str) -> None:
    assert "mét" not in say(text) and "lít" not in say(text) and "héc ta" not in say(text)
    assert "ki lô" not in say(text)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("0912 345 678", "không chín một hai, ba bốn năm, sáu bảy tám"),
        ("0912.345.678", "không chín một hai, ba bốn năm, sáu bảy tám"),
        ("0912345678", "không chín một hai, ba bốn năm, sáu bảy tám"),
        ("024 3825 1234", "không hai bốn, ba tám hai năm, một hai ba bốn"),
        ("+84 912 345 678", "cộng tám bốn, chín một hai, ba bốn năm, sáu bảy tám"),
        ("19001234", "một chín không không, một hai ba bốn"),
        ("1900 1234", "một chín không không, một hai ba bốn"),
        ("1800.1091", "một tám không không, một không chín một"),
        ("Gọi 113", "Gọi một một ba"),
        ("gọi 113 hoặc 114", "gọi một một ba hoặc một một bốn"),
        ("Cấp cứu: 115", "Cấp cứu, một một năm"),
        ("đường dây nóng 111", "đường dây nóng một một một"),
    ],
)
def test_phone_numbers_digit_by_digit(text: str, spoken: str) -> None:
    assert say(text) == spoken


def test_three_digit_counts_are_not_hotlines() -> None:
    assert say("Có 115 tổ công nghệ số") == "Có một trăm mười lăm tổ công nghệ số"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("thứ 2", "thứ hai"),
        ("Thứ 7", "Thứ bảy"),
        ("thứ 4", "thứ tư"),
        ("lần thứ 1", "lần thứ nhất"),
        ("lần thứ 14", "lần thứ mười bốn"),
        ("quý IV", "quý bốn"),
        ("Quý I năm 2025", "Quý một năm hai nghìn không trăm hai mươi lăm"),
        ("khóa XV", "khóa mười lăm"),
        ("Đại hội XIII", "Đại hội mười ba"),
        ("lần thứ IV", "lần thứ tư"),
        ("số 5", "số năm"),
        ("Điều 3", "Điều ba"),
        ("khoản 2 Điều 5", "khoản hai Điều năm"),
        ("Điều 3.2", "Điều ba chấm hai"),
    ],
)
def test_ordinals_roman_and_numbered_items(text: str, spoken: str) -> None:
    assert say(text) == spoken


def test_fractions_and_document_numbers() -> None:
    assert say("97 % (1.070/1.099)") == (
        "chín mươi bảy phần trăm, một nghìn không trăm bảy mươi trên một nghìn không trăm chín mươi chín"
    )
    assert say("Thông tư 39/2020/TT-BTTTT") == (
        "Thông tư ba mươi chín trên hai nghìn không trăm hai mươi trên thông tư bộ thông tin và truyền thông"
    )
    assert say("Quyết định số 12/QĐ-UBND") == "Quyết định số mười hai trên quyết định ủy ban nhân dân"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("khoảng 1/3 số hộ", "khoảng một phần ba số hộ"),
        ("3/4 số hộ", "ba phần tư số hộ"),
        ("chiếm 2/3", "chiếm hai phần ba"),
    ],
)
def test_fractions_named_by_their_context(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Nhiệt độ từ 20°C - 25°C", "Nhiệt độ từ hai mươi đến hai mươi lăm độ xê"),
        ("tăng 3% - 5%", "tăng ba đến năm phần trăm"),
        ("ngày 20/8 - 25/8", "ngày hai mươi tháng tám đến ngày hai mươi lăm tháng tám"),
    ],
)
def test_ranges_with_the_unit_on_both_ends(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Gửi về abc@gmail.com", "Gửi về abc a còng gờ meo chấm com"),
        ("Xem https://dichvucong.gov.vn/p/home", "Xem dịch vụ công chấm gốp chấm vê en gạch chéo p gạch chéo home"),
        ("www.baolaocai.vn", "vê kép vê kép vê kép chấm baolaocai chấm vê en"),
    ],
)
def test_web_and_mail_addresses(text: str, spoken: str) -> None:
    assert say(text) == spoken
