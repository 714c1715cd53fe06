"""What a transcript export reads: the video, its transcript with the models that made it, and who each
local speaker label is across videos."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ytingest.store.speakers import Voice, voices
from ytingest.store.transcripts import StoredTranscript, load_transcript


class TranscriptError(ValueError):
    """An export that cannot be made (unknown video, no transcript), in one line."""


@dataclass(frozen=True)
class TranscriptDocument:
    video_id: str
    title: str
    url: str
    source: str  # "captions" or "asr"
    caption_kind: str | None
    language: str | None
    models: dict[str, str | None]  # transcript, diarization, voice
    transcript: StoredTranscript
    voices: dict[str, Voice]  # local label -> global speaker and name


def resolve_video(conn: psycopg.Connection, video: str) -> str:
    """A stored video id, or the id its source gives it (a YouTube id, a feed's guid)."""
    row = conn.execute(
        "SELECT video_id FROM videos WHERE video_id = %s UNION ALL"
        " (SELECT video_id FROM videos WHERE source_id = %s ORDER BY video_id LIMIT 1) LIMIT 1",
        (video, video),
    ).fetchone()
    if row is None:
        raise TranscriptError(f"no video {video!r}: give a video id or its YouTube/source id")
    return row[0]


def transcript_document(conn: psycopg.Connection, video: str) -> TranscriptDocument:
    video_id = resolve_video(conn, video)
    transcript = load_transcript(conn, video_id)
    if transcript is None:
        raise TranscriptError(f"{video} has no transcript yet; materialise transcripts for it first")
    title, url, caption_kind, language, asr_model, diarization_model, voice_model = conn.execute(
        """
        SELECT v.title, v.url, t.caption_kind, t.language, t.model,
               (SELECT model FROM diarizations WHERE video_id = v.video_id),
               (SELECT min(model) FROM voice_embeddings WHERE video_id = v.video_id)
        FROM videos v JOIN transcripts t USING (video_id) WHERE v.video_id = %s
        """,
        (video_id,),
    ).fetchone()
    known = {label: voice for (_, label), voice in voices(conn, [video_id]).items()}
    models = {"transcript": asr_model, "diarization": diarization_model, "voice": voice_model}
    return TranscriptDocument(
        video_id, title, url, transcript.source, caption_kind, language, models, transcript, known
    )
