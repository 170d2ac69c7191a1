"""Compose (a text read by TTS) and Record (the phone's microphone or a file), plus the two previews:
the words that will be spoken (the normalizer's output) and a short listen before saving."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from api.content.recording_upload import longest_programme_s, receive_recording
from api.deps import Auth, Context, Id
from api.web.choices import ENGINE_LABELS, KIND_LABELS, SPEEDS, int_or_none, languages, parse_date_end, voices
from api.web.flash import flash_redirect
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.web.session import check_csrf, now_of, require_principal
from content.guards.airtime import airtime, minutes_and_seconds
from content.library import service as library
from content.library.models import ContentItem, Kind, Status
from content.library.schemas import ItemMeta, TextItemCreate
from content.library.upload import check_declared_type
from loa.db import session_scope
from loa.errors import DomainError, Invalid
from loa.org import service as org
from sqlmodel import select

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# The two previews answer JSON / audio to the page's script: their errors stay application/problem+json.
json_router = APIRouter(include_in_schema=False)
PREVIEW_CHARS = 1500  # a listen is a sample: the whole text is rendered when saved


def spoken_sentences(text: str, voice: str | None) -> list[str]:
    from content.textnorm import normalize
    from content.textnorm.normalize import region_for_voice

    return normalize(text, region=region_for_voice(voice)).sentences


def _compose_context(request: Request, commune_id: int, user) -> dict:
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        user.require_role(commune_id, *library.EDITORS)
        villages = org.list_villages(s, user, commune_id)
        limit_s = longest_programme_s(s, commune_id)
    cache = request.app.state.settings.tts_cache_dir
    return dict(commune=commune, user=user, villages=villages, kinds=KIND_LABELS, engines=ENGINE_LABELS,
                voices=voices(str(cache) if cache else None), speeds=SPEEDS, limit_s=limit_s,
                title=gettext_for(request)("Write"))


def airtime_view(request: Request, sentences: list[str], speed: float, limit_s: float) -> dict:
    """The estimate in the page's language: {seconds, level: ok|long|over, text} (content/guards/airtime.py)."""
    _ = gettext_for(request)
    est = airtime(sentences, speed, limit_s)
    minutes, seconds = minutes_and_seconds(est.seconds)
    length = (_("about %(m)d min %(s)02d s") % {"m": minutes, "s": seconds}) if minutes else \
        (_("about %(s)d s") % {"s": seconds})
    lm, ls = minutes_and_seconds(limit_s)
    limit = _("%(m)d min") % {"m": lm} if not ls else _("about %(m)d min %(s)02d s") % {"m": lm, "s": ls}
    if est.over:
        level, text = "over", _("Estimated airtime: %(length)s. That is longer than this station allows "
                                "(%(limit)s): shorten the text or split it into several announcements.") \
            % {"length": length, "limit": limit}
    elif est.long:
        level, text = "long", _("Estimated airtime: %(length)s. Past 5 minutes few people listen to the end: "
                                "keep it short if you can.") % {"length": length}
    else:
        level, text = "ok", _("Estimated airtime: %(length)s.") % {"length": length}
    return {"seconds": round(est.seconds, 1), "level": level, "text": text, "limit_s": limit_s}


@router.get("/app/c/{commune_id}/compose")
def compose_page(request: Request, commune_id: Id):
    user = require_principal(request)
    return render(request, "compose.html", form={"engine": "auto", "speed": "1.0", "kind": "guidance"},
                  **_compose_context(request, commune_id, user))


@router.post("/app/c/{commune_id}/compose")
def compose_save(request: Request, commune_id: Id, csrf: Annotated[str, Form(max_length=200)],
                 title: Annotated[str, Form(max_length=300)] = "", text: Annotated[str, Form(max_length=20000)] = "",
                 kind: Annotated[str, Form(max_length=16)] = "guidance",
                 engine: Annotated[str, Form(max_length=16)] = "auto",
                 voice: Annotated[str, Form(max_length=100)] = "", speed: Annotated[float, Form()] = 1.0,
                 village_id: Annotated[str, Form(max_length=12)] = "",
                 expires_on: Annotated[str, Form(max_length=10)] = "",
                 action: Annotated[str, Form(max_length=16)] = "save"):
    user = require_principal(request)
    check_csrf(request, csrf)
    context = _compose_context(request, commune_id, user)
    form = dict(title=title, text=text, kind=kind, engine=engine, voice=voice, speed=str(speed),
                village_id=village_id, expires_on=expires_on)
    sentences = spoken_sentences(text, voice or None)
    estimate = airtime_view(request, sentences, speed, context["limit_s"])
    if action == "preview":  # without JavaScript, the "show the words" button comes here
        return render(request, "compose.html", form=form, sentences=sentences, airtime=estimate, **context)
    if estimate["level"] == "over":  # refused before anything is stored; the text stays in the form
        return render(request, "compose.html", status=422, form=form, sentences=sentences, airtime=estimate,
                      error=estimate["text"], **context)
    try:
        body = TextItemCreate(title=title.strip() or text.strip()[:60] or "-", text=text, kind=Kind(kind),
                              engine=engine, voice=voice or None, speed=speed, village_id=int_or_none(village_id),
                              expires_at=parse_date_end(expires_on, context["commune"].timezone))
    except (ValidationError, ValueError):
        _ = gettext_for(request)
        return render(request, "compose.html", status=422, form=form, **context,
                      error=_("Please write the text of the announcement (at most 20,000 characters)."))
    try:
        with session_scope(request.app.state.engine) as s:
            item, _job = library.create_text_item(s, user, commune_id, body, now_of(request))
            item_id = item.id
    except DomainError as exc:
        message = exc.message_en if page_lang(request) == "en" else exc.message_vi
        return render(request, "compose.html", status=exc.status, form=form, error=message, **context)
    return flash_redirect(f"/app/items/{item_id}", "saved", request.app.state.settings.cookie_secure)


class WordsBody(BaseModel):
    text: str = Field(max_length=20000)
    voice: str | None = Field(default=None, max_length=100)
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class ListenBody(WordsBody):
    engine: str = Field(default="auto", max_length=16)


@json_router.post("/app/c/{commune_id}/compose/words")
def words(request: Request, commune_id: Id, body: WordsBody, principal: Auth, ctx: Context) -> dict:
    """The normalizer's output for the text: exactly the sentences the engine will be given, and how long they
    will last on air (with the warning past 5 minutes and the station's limit)."""
    principal.require_role(commune_id, *library.EDITORS)
    with session_scope(request.app.state.engine) as s:
        org.get_commune(s, principal, commune_id)
        limit_s = longest_programme_s(s, commune_id)
    sentences = spoken_sentences(body.text, body.voice)
    return {"sentences": sentences, "airtime": airtime_view(request, sentences, body.speed, limit_s)}


@json_router.post("/app/c/{commune_id}/compose/listen")
def listen(commune_id: Id, body: ListenBody, principal: Auth, ctx: Context) -> Response:
    """A short Ogg/Opus sample in the chosen voice (not stored; the saved item is rendered and mastered)."""
    from content.audio.ffmpeg import run_ffmpeg
    from content.tts.base import EngineError
    from content.tts.render import synthesize

    principal.require_role(commune_id, *library.EDITORS)
    cache = ctx.settings.tts_cache_dir
    try:
        speech = synthesize(body.text[:PREVIEW_CHARS], engine=body.engine, voice=body.voice or None,
                            speed=body.speed, cache_dir=str(cache) if cache else None)
    except EngineError as exc:
        vi, _, en = str(exc).partition(" / ")
        raise Invalid("tts_failed", vi, en or vi) from exc
    pcm = speech.pcm
    ogg = run_ffmpeg(["-f", "s16le", "-ar", str(pcm.rate), "-ac", str(pcm.channels), "-i", "pipe:0",
                      "-c:a", "libopus", "-b:a", "24k", "-f", "ogg", "pipe:1"], stdin=pcm.to_int16_bytes(),
                     timeout=120)
    return Response(ogg, media_type="audio/ogg", headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- record


def _record_context(request: Request, commune_id: int, user, pair: int | None) -> dict:
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        user.require_role(commune_id, *library.EDITORS)
        villages = org.list_villages(s, user, commune_id)
        query = (select(ContentItem).where(ContentItem.commune_id == commune_id, ContentItem.language == "vi",
                                           ContentItem.status != Status.archived.value)
                 .order_by(ContentItem.id.desc()).limit(50))
        partners = [i for i in s.exec(query) if library._visible(user, i)]
    return dict(commune=commune, user=user, villages=villages, kinds=KIND_LABELS, languages=languages(),
                partners=partners, pair=pair, title=gettext_for(request)("Record"))


@router.get("/app/c/{commune_id}/record")
def record_page(request: Request, commune_id: Id, pair: int | None = None):
    user = require_principal(request)
    context = _record_context(request, commune_id, user, pair)
    village_lang = next((v.default_language for v in context["villages"] if v.default_language != "vi"), "vi")
    form = {"kind": "guidance", "language": village_lang if pair else "vi", "pair_item_id": str(pair or "")}
    return render(request, "record.html", form=form, **context)


# The path ends in /recordings so the body limit is the upload limit (api/app.py BodyLimit), as for the API.
@router.post("/app/c/{commune_id}/recordings")
def record_save(request: Request, commune_id: Id, csrf: Annotated[str, Form(max_length=200)],
                file: Annotated[UploadFile, File()], title: Annotated[str, Form(max_length=300)] = "",
                transcript: Annotated[str, Form(max_length=20000)] = "",
                kind: Annotated[str, Form(max_length=16)] = "guidance",
                language: Annotated[str, Form(max_length=35)] = "vi",
                village_id: Annotated[str, Form(max_length=12)] = "",
                pair_item_id: Annotated[str, Form(max_length=12)] = "",
                expires_on: Annotated[str, Form(max_length=10)] = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    pair = int_or_none(pair_item_id)
    context = _record_context(request, commune_id, user, pair)
    form = dict(title=title, transcript=transcript, kind=kind, language=language, village_id=village_id,
                pair_item_id=pair_item_id, expires_on=expires_on)
    _ = gettext_for(request)
    if not transcript.strip():  # audio always has a transcript: residents who cannot hear read it
        return render(request, "record.html", status=422, form=form, **context,
                      error=_("Please write what the recording says (the transcript)."))
    settings = request.app.state.settings
    try:
        meta = ItemMeta(title=title.strip() or transcript.strip()[:60], kind=Kind(kind), language=language,
                        village_id=int_or_none(village_id), pair_item_id=pair,
                        expires_at=parse_date_end(expires_on, context["commune"].timezone))
        with session_scope(request.app.state.engine) as s:
            library.check_can_create(s, user, commune_id, meta)
        check_declared_type(file.content_type)
        # Mastered now, or (every mastering slot busy) checked and queued: the item page then says it waits.
        item_id = receive_recording(request.app.state.engine, settings, user, commune_id, meta, file.file,
                                    file.filename, transcript.strip(), now_of(request),
                                    lambda s, item, job: item.id)
    except (ValidationError, ValueError):
        return render(request, "record.html", status=422, form=form, **context,
                      error=_("Some fields are not valid: check the title, language and date."))
    except DomainError as exc:
        message = exc.message_en if page_lang(request) == "en" else exc.message_vi
        return render(request, "record.html", status=exc.status, form=form, error=message, **context)
    return flash_redirect(f"/app/items/{item_id}", "saved", request.app.state.settings.cookie_secure)
