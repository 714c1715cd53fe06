"""`ytingest transcript VIDEO --format txt|srt|vtt|json`: a stored transcript with times and speaker
names, written as plain text, SubRip or WebVTT (by pysubs2) or JSON (with word times, the source and the
models used).

The web UI calls `export_transcript` (see /work/notes/issue-14-api.md)."""

from __future__ import annotations

import html
import json

import psycopg
import pysubs2

from resources.postgres import PostgresResource
from ytingest.core.captions import Segment
from ytingest.store.exports import (
    TranscriptDocument,
    TranscriptError,
    transcript_document,
)

__all__ = ["FORMATS", "TranscriptError", "export_transcript", "render_transcript"]

FORMATS = ("txt", "srt", "vtt", "json")


def export_transcript(video: str, fmt: str = "txt") -> str:
    """The transcript of `video` (a video id or its source id) in `fmt`; TranscriptError otherwise."""
    _check_format(fmt)
    with PostgresResource().connect() as conn:
        return render_transcript(conn, video, fmt)


def render_transcript(conn: psycopg.Connection, video: str, fmt: str) -> str:
    _check_format(fmt)
    document = transcript_document(conn, video)
    match fmt:
        case "txt":
            return _text(document)
        case "json":
            return json.dumps(_json(document), ensure_ascii=False, indent=1)
        case _:
            return _subtitles(document, fmt)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise TranscriptError(f"unknown transcript format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _speaker(document: TranscriptDocument, segment: Segment) -> str | None:
    if segment.speaker is None:
        return None
    voice = document.voices.get(segment.speaker)
    return voice.display if voice is not None else segment.speaker


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000 // 100:d}"


def _text(document: TranscriptDocument) -> str:
    lines = [f"# {document.title}", f"# {document.url}", f"# source: {document.source}", ""]
    for segment in document.transcript.segments:
        who = _speaker(document, segment)
        lines.append(f"[{_clock(segment.start)}] {who + ': ' if who else ''}{segment.text}")
    return "\n".join(lines) + "\n"


def _subtitles(document: TranscriptDocument, fmt: str) -> str:
    subs = pysubs2.SSAFile()
    for segment in document.transcript.segments:
        who = _speaker(document, segment)
        text = f"{who}: {segment.text}" if who else segment.text
        event = pysubs2.SSAEvent(start=round(segment.start * 1000), end=round(segment.end * 1000))
        # WebVTT cue text is HTML-like: a literal "<" or "&" must be escaped or a player drops it.
        event.plaintext = html.escape(text, quote=False) if fmt == "vtt" else text
        subs.append(event)
    # keep_ssa_tags: a "{" in speech is text, not an SSA override for pysubs2 to strip.
    return subs.to_string(fmt, keep_ssa_tags=True)


def _json(document: TranscriptDocument) -> dict:
    segments = []
    for segment in document.transcript.segments:
        voice = document.voices.get(segment.speaker) if segment.speaker is not None else None
        entry: dict = {
            "start": segment.start,
            "end": segment.end,
            "text": segment.text,
            "speaker": None
            if segment.speaker is None
            else {
                "label": segment.speaker,
                "id": voice.speaker_id if voice else None,
                "name": voice.name if voice else None,
                "display": _speaker(document, segment),
            },
        }
        if segment.words:
            entry["words"] = [{"start": w.start, "end": w.end, "text": w.text} for w in segment.words]
        segments.append(entry)
    return {
        "video_id": document.video_id,
        "title": document.title,
        "url": document.url,
        "source": document.source,
        "caption_kind": document.caption_kind,
        "language": document.language,
        "models": document.models,
        "segments": segments,
    }
