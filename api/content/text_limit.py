"""The station's longest programme applied to a typed text before it is stored: a text whose estimated airtime
(content/guards/airtime.py) is over the limit is refused with a clear 422, by the API and the web form alike."""
from __future__ import annotations

from sqlmodel import Session

from api.content.recording_upload import longest_programme_s
from content.guards.airtime import estimate_seconds, minutes_and_seconds
from loa.errors import Invalid


def check_text_airtime(session: Session, commune_id: int, text: str, voice: str | None, speed: float | None) -> None:
    from content.textnorm import normalize
    from content.textnorm.normalize import region_for_voice

    limit_s = longest_programme_s(session, commune_id)
    seconds = estimate_seconds(normalize(text, region=region_for_voice(voice)).sentences, speed or 1.0)
    if seconds <= limit_s:
        return
    m, s = minutes_and_seconds(seconds)
    lm = int(limit_s // 60)
    raise Invalid("text_too_long_to_air",
                  f"Văn bản đọc lên mất khoảng {m} phút {s:02d} giây, dài hơn mức tối đa của đài ({lm} phút). "
                  "Hãy rút ngắn hoặc chia thành nhiều thông báo.",
                  f"Read aloud, the text would last about {m} min {s:02d} s, longer than this station allows "
                  f"({lm} min). Shorten it or split it into several announcements.",
                  estimated_s=round(seconds, 1), limit_s=limit_s)
