"""The pages and the JSON API. Handlers parse and check the request, call `data`, and render a template;
the database work runs in the thread pool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from resources.models.errors import ModelError
from ytingest.app.searching import hit_to_json
from ytingest.app.transcripts import TranscriptError, render_transcript
from ytingest.app.web import data
from ytingest.app.web.security import (
    CSRF_FIELD,
    TOKEN_FIELD,
    csrf_token,
    keep_csrf,
    secure_headers,
)
from ytingest.core.identifiers import validate_video_id
from ytingest.store.search import SearchError

MAX_LIMIT = 100
YOUTUBE_EMBED = "https://www.youtube-nocookie.com/embed/"
def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def highlight(text: str, spans: list[tuple[int, int]]) -> Markup:
    """`text`, escaped, with the spans search matched in <mark>: the words `ytingest search` marks."""
    parts, position = [], 0
    for begin, end in sorted(spans):
        if begin < position:
            continue
        parts += [escape(text[position:begin]), Markup("<mark>%s</mark>") % text[begin:end]]
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(clock=clock, highlight=highlight)


def _render(request: Request, name: str, context: dict, status: int = 200) -> Response:
    context = {
        **context,
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "token_field": TOKEN_FIELD,
        "guard": request.app.state.guard,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status)
    return secure_headers(keep_csrf(request, response))


def _player(video: data.Video | None, video_id: str) -> dict:
    """How a page plays a video: the YouTube embed for YouTube sources, else the archive's own audio."""
    if video is not None and video.youtube:
        return {"kind": "youtube", "src": YOUTUBE_EMBED + video.video_id}
    return {"kind": "audio", "src": f"/audio/{video_id}"}


class BadRequest(ValueError):
    pass


def _search_args(request: Request) -> dict:
    params = request.query_params
    since = params.get("since") or None
    try:
        limit = int(params.get("limit") or 10)
    except ValueError:
        raise BadRequest("limit: expected a number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: expected 1 to {MAX_LIMIT}")
    try:
        since_date = dt.date.fromisoformat(since) if since else None
    except ValueError:
        raise BadRequest(f"since: expected a date as YYYY-MM-DD, got {since!r}") from None
    return {
        "query": params.get("q", ""),
        "channel": params.get("channel") or None,
        "speaker": params.get("speaker") or None,
        "since": since_date,
        "limit": limit,
    }


async def search_page(request: Request) -> Response:
    archive = request.app.state.archive
    form = {key: request.query_params.get(key, "") for key in ("q", "channel", "speaker", "since", "limit")}
    channels = await run_in_threadpool(data.channel_keys, archive)
    speakers = await run_in_threadpool(data.list_speakers, archive)
    context = {"form": form, "channels": channels, "speakers": speakers, "results": None, "error": None}
    if not form["q"].strip():
        return _render(request, "search.html", context)
    try:
        args = _search_args(request)
        hits = await run_in_threadpool(data.search_hits, archive, **args)
    except (BadRequest, SearchError, data.DataError, ModelError) as exc:
        return _render(request, "search.html", {**context, "error": str(exc)}, status=400)
    videos = {hit.video_id: await run_in_threadpool(data.video, archive, hit.video_id) for hit in hits}
    context["results"] = [{"hit": hit, "player": _player(videos[hit.video_id], hit.video_id)} for hit in hits]
    return _render(request, "search.html", context)


async def api_search(request: Request) -> Response:
    """The hits as `ytingest search --json` prints them."""
    try:
        args = _search_args(request)
        hits = await run_in_threadpool(data.search_hits, request.app.state.archive, **args)
    except (BadRequest, SearchError, data.DataError, ModelError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse([hit_to_json(hit) for hit in hits])


def _video_id(request: Request) -> str:
    try:
        return validate_video_id(request.path_params["video_id"])
    except ValueError:
        raise BadRequest("not a video id") from None


async def video_page(request: Request) -> Response:
    archive = request.app.state.archive
    try:
        video_id = _video_id(request)
        start = float(request.query_params.get("t") or 0)
    except (BadRequest, ValueError):
        return PlainTextResponse("not a video id or time", status_code=400)
    video = await run_in_threadpool(data.video, archive, video_id)
    if video is None:
        return _render(request, "missing.html", {"what": f"no video {video_id}"}, status=404)
    lines = await run_in_threadpool(data.transcript_segments, archive, video_id)
    context = {"video": video, "lines": lines, "start": start, "player": _player(video, video_id), "formats": DOWNLOADS}
    return _render(request, "video.html", context)


DOWNLOADS = {"srt": "application/x-subrip", "vtt": "text/vtt", "json": "application/json"}


async def transcript_download(request: Request) -> Response:
    archive = request.app.state.archive
    fmt = request.path_params["fmt"]
    try:
        video_id = _video_id(request)
    except BadRequest:
        return PlainTextResponse("not a video id", status_code=400)
    if fmt not in DOWNLOADS:
        return PlainTextResponse(f"unknown format {fmt!r}: srt, vtt or json", status_code=404)

    def render() -> str:
        with archive.connect() as conn:
            return render_transcript(conn, video_id, fmt)

    try:
        body = await run_in_threadpool(render)  # the same files `ytingest transcript` writes
    except TranscriptError:
        return PlainTextResponse(f"no transcript for {video_id}", status_code=404)
    disposition = f'attachment; filename="{video_id}.{fmt}"'  # a validated id: no quotes or separators
    return Response(body, media_type=DOWNLOADS[fmt], headers={"content-disposition": disposition})


async def audio(request: Request) -> Response:
    path = data.audio_path(request.path_params["video_id"])
    if path is None:
        return PlainTextResponse("no audio for that video", status_code=404)
    return FileResponse(path, media_type="audio/wav")  # answers Range requests, so the player can seek


async def speakers_page(request: Request) -> Response:
    speakers = await run_in_threadpool(data.list_speakers, request.app.state.archive)
    context = {"speakers": speakers, "error": None, "done": request.query_params.get("done")}
    return _render(request, "speakers.html", context)


async def _change(request: Request, change) -> Response:
    form = await request.form()
    refusal = request.app.state.guard.refusal(request, form)
    if refusal is not None:
        return PlainTextResponse(refusal, status_code=403)
    try:
        done = await run_in_threadpool(change, form)
    except (data.DataError, ValueError) as exc:
        speakers = await run_in_threadpool(data.list_speakers, request.app.state.archive)
        return _render(request, "speakers.html", {"speakers": speakers, "error": str(exc), "done": None}, status=400)
    return RedirectResponse(f"/speakers?done={done}", status_code=303)


def _speaker_id(value) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise data.DataError(f"not a speaker id: {str(value)[:20]!r}") from None


async def rename(request: Request) -> Response:
    archive = request.app.state.archive

    def change(form) -> str:
        data.rename_speaker(archive, _speaker_id(request.path_params["speaker_id"]), str(form.get("name", "")))
        return "renamed"

    return await _change(request, change)


async def merge(request: Request) -> Response:
    archive = request.app.state.archive

    def change(form) -> str:
        data.merge_speakers(archive, _speaker_id(form.get("keep")), _speaker_id(form.get("other")))
        return "merged"

    return await _change(request, change)


def routes() -> list[Route]:
    return [
        Route("/", search_page),
        Route("/api/search", api_search),
        Route("/videos/{video_id}", video_page),
        Route("/videos/{video_id}/transcript.{fmt}", transcript_download),
        Route("/audio/{video_id}", audio),
        Route("/speakers", speakers_page),
        Route("/speakers/merge", merge, methods=["POST"]),
        Route("/speakers/{speaker_id}/name", rename, methods=["POST"]),
    ]

