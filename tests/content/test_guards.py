"""Guard rails on a typed text: the airtime estimate (checked against a real eSpeak render) and the words that
name a day relative to today."""
from __future__ import annotations

import pytest

from content.guards.airtime import LONG_S, SYLLABLES_PER_MINUTE, airtime, estimate_seconds, minutes_and_seconds
from content.guards.relative_days import relative_day_words, stale_words_warning, typed_without_diacritics


def test_airtime_counts_the_spoken_syllables_at_the_measured_rate():
    sentences = ["bảy giờ ba mươi phút sáng mai", "ủy ban nhân dân xã"]  # 7 + 5 syllables
    assert estimate_seconds(sentences) == pytest.approx(12 / SYLLABLES_PER_MINUTE * 60)
    assert estimate_seconds(sentences, speed=1.2) == pytest.approx(estimate_seconds(sentences) / 1.2)
    assert estimate_seconds([]) == 0


def test_airtime_levels():
    per_minute = ["một " * int(SYLLABLES_PER_MINUTE)]  # one minute of speech
    assert airtime(per_minute * 4, 1.0, 600) == airtime(per_minute * 4, 1.0, 600)
    short, long_, over = airtime(per_minute * 4, 1.0, 600), airtime(per_minute * 6, 1.0, 600), \
        airtime(per_minute * 11, 1.0, 600)
    assert (short.long, short.over) == (False, False)
    assert (long_.long, long_.over) == (True, False) and long_.seconds > LONG_S
    assert over.over and over.seconds == pytest.approx(660)
    assert airtime(per_minute * 6, 1.25, 600).long is False  # faster speech: under 5 minutes


def test_minutes_and_seconds_round_up_to_ten_seconds():
    assert minutes_and_seconds(0) == (0, 0)
    assert minutes_and_seconds(6.5) == (0, 10)
    assert minutes_and_seconds(200) == (3, 20)
    assert minutes_and_seconds(201) == (3, 30)
    assert minutes_and_seconds(1700) == (28, 20)


def test_the_estimate_is_close_to_a_real_espeak_render():
    """The rate was measured on the guidance pack; a text it has never seen lands within a quarter of it."""
    from content.textnorm import normalize
    from content.tts.render import synthesize

    text = ("Thông báo của Ủy ban nhân dân xã Cốc San. Từ ngày 15/3, bà con mang căn cước công dân đến nhà văn hóa "
            "thôn để được hướng dẫn cài đặt ứng dụng VNeID, kích hoạt tài khoản định danh điện tử mức hai. Mỗi hộ "
            "cử một người đến đúng giờ, mang theo điện thoại thông minh đã sạc đầy pin. Cán bộ công an xã sẽ có "
            "mặt từ 7h30 đến 11h00 và từ 13h30 đến 17h00.")
    speech = synthesize(text, engine="espeak", voice=None, speed=1.0, cache_dir=None)
    real = len(speech.pcm.samples) / speech.pcm.rate
    estimate = estimate_seconds(normalize(text).sentences)
    assert 0.75 * real <= estimate <= 1.25 * real, (estimate, real)


@pytest.mark.parametrize("text,expected", [
    ("7h30 sáng mai, UBND xã hướng dẫn cài VNeID.", ["sáng mai"]),
    ("Hôm nay họp thôn. Tối nay chiếu phim, tuần sau tiêm phòng.", ["Hôm nay", "Tối nay", "tuần sau"]),
    ("Ngày mai và ngày mai nữa", ["Ngày mai"]),  # each phrase once
    ("Chiều nay   họp", ["Chiều nay"]),  # spaces as typed
    ("Ngày 15/3 họp thôn tại nhà văn hóa.", []),
    ("Chị Mai sang Mai Sơn họp.", []),  # the name Mai is not a day
    ("Tuần này tiêm phòng", ["Tuần này"]),
])
def test_relative_day_words_with_diacritics(text, expected):
    assert relative_day_words(text) == expected


def test_a_text_typed_without_diacritics_is_matched_without_them():
    text = "7h30 sang mai, UBND xa huong dan cai VNeID tai nha van hoa. Toi nay hop thon."
    assert typed_without_diacritics(text)
    assert relative_day_words(text) == ["sang mai", "Toi nay"]
    # with diacritics, an unaccented "sang Mai" is "to Mai's", not "tomorrow morning"
    assert not typed_without_diacritics("Chị sang Mai Sơn chơi, rồi về nhà văn hóa họp thôn.")
    assert relative_day_words("Chị sang Mai Sơn chơi, rồi về nhà văn hóa họp thôn.") == []


def test_a_warning_only_for_a_repeating_schedule_without_an_end():
    texts = ["Sáng mai họp thôn", None, "Tuần sau tiêm phòng"]
    assert stale_words_warning(texts, repeats=True, has_end=False) == ["Sáng mai", "Tuần sau"]
    assert stale_words_warning(texts, repeats=True, has_end=True) == []
    assert stale_words_warning(texts, repeats=False, has_end=False) == []
    assert stale_words_warning(["Họp thôn ngày 15/3"], repeats=True, has_end=False) == []
