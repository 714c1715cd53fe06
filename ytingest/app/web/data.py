"""Everything the web pages read or change, as small functions over the archive.

The pages call only these; search, transcripts and speakers are the store's own functions, the ones the
CLI uses. Each function opens its own connection: one short transaction per request."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ytingest.core.identifiers import is_youtube_video_id, validate_video_id
from ytingest.settings import get_settings
from ytingest.store import catalog
from ytingest.store import speakers as speaker_store
from ytingest.store.search import Filters, Hit, search


class DataError(ValueError):
    """A request the archive cannot answer as asked; the message is one line for the user."""


@dataclass(frozen=True)
class Video:
    video_id: str
    title: str
    url: str
    channel: str | None
    published: dt.date | None
    duration: float | None

    @property
    def youtube(self) -> bool:
        return is_youtube_video_id(self.video_id) and ("youtube.com" in self.url or "youtu.be" in self.url)


@dataclass(frozen=True)
class Line:
    """A transcript segment with its speaker resolved to the global registry."""

    start: float
    end: float
    text: str
    label: str | None  # the video-local diarization label
    speaker_id: int | None
    speaker: str | None  # the display name: the name given, else "speaker N", else the local label


@dataclass(frozen=True)
class Speaker:
    speaker_id: int
    name: str | None
    videos: int
    talk_seconds: float
    example: Line | None
    example_video: str | None

    @property
    def display(self) -> str:
        return display_name(self.speaker_id, self.name)


def display_name(speaker_id: int | None, name: str | None, label: str | None = None) -> str | None:
    if name:
        return name
    if speaker_id is not None:
        return f"speaker {speaker_id}"
    return label


class Archive:
    """The database and a text encoder held for the life of the server (loading it per query costs seconds)."""

    def __init__(self) -> None:
        from resources.postgres import PostgresResource

        self._postgres = PostgresResource()
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._encoder = None

    def connect(self):
        return self._postgres.connect()

    def encode(self, text: str) -> tuple[str, np.ndarray]:
        from resources.models import TextEncoderResource

        with self._lock:
            if self._encoder is None:
                self._encoder = self._stack.enter_context(TextEncoderResource().session())
            return self._encoder.plan.name, self._encoder.encode_query(text)

    def similarity(self, query_vector: np.ndarray):
        """Sentence-to-query similarity for placing a hit on its moment, as `ytingest search` does."""

        def score(texts):
            with self._lock:
                encoded = self._encoder.encode(list(texts))
            norms = np.linalg.norm(encoded, axis=1) * np.linalg.norm(query_vector)
            return (encoded @ query_vector / np.where(norms > 0, norms, 1.0)).tolist()

        return score

    def warm_up(self) -> None:
        """Load the encoder before the first search asks for it (a cold load takes seconds to a minute)."""
        from resources.models.errors import ModelError

        try:
            self.encode("warm up")
        except ModelError:
            pass  # the first search meets the same error and shows it

    def close(self) -> None:
        self._stack.close()


# --- search ------------------------------------------------------------------------------------


def search_hits(
    archive: Archive, query: str, channel: str | None, speaker: str | None, since: dt.date | None, limit: int
) -> list[Hit]:
    """The hits `ytingest search` returns for the same arguments (`run_search`, with the encoder held)."""
    if not query.strip():
        raise DataError("type something to search for")
    model, vector = archive.encode(query)
    with archive.connect() as conn:
        return search(conn, model, query, vector, Filters(channel, speaker, since), limit, archive.similarity(vector))


# --- videos and transcripts -------------------------------------------------------------------------

_LINE_SELECT = """
    SELECT s.start_s, s.end_s, s.text, ss.speaker, ve.speaker_id, sp.name
    FROM transcript_segments s
    LEFT JOIN segment_speakers ss ON ss.video_id = s.video_id AND ss.idx = s.idx
    LEFT JOIN voice_embeddings ve ON ve.video_id = s.video_id AND ve.speaker = ss.speaker
    LEFT JOIN speakers sp ON sp.speaker_id = ve.speaker_id
"""


def _line(row) -> Line:
    start, end, text, label, speaker_id, name = row
    return Line(start, end, text, label, speaker_id, display_name(speaker_id, name, label))


def video(archive: Archive, video_id: str) -> Video | None:
    with archive.connect() as conn:
        row = conn.execute(
            "SELECT v.video_id, v.title, v.url,"
            " (SELECT min(channel_key) FROM channel_videos cv WHERE cv.video_id = v.video_id),"
            " v.published_date, coalesce(a.duration_seconds, v.duration_seconds)"
            " FROM videos v LEFT JOIN audio a USING (video_id) WHERE v.video_id = %s",
            (video_id,),
        ).fetchone()
    return Video(*row) if row else None


def transcript_segments(archive: Archive, video_id: str) -> list[Line]:
    with archive.connect() as conn:
        rows = conn.execute(_LINE_SELECT + " WHERE s.video_id = %s ORDER BY s.idx", (video_id,)).fetchall()
    return [_line(row) for row in rows]


def audio_path(video_id: str) -> Path | None:
    """The archive's own audio of a video: DATA_DIR/audio/<id>.wav, the path built from the validated id
    alone (never from the request or the database), or None when there is none."""
    try:
        validate_video_id(video_id)
    except ValueError:
        return None
    path = get_settings().audio_dir / f"{video_id}.wav"
    return path if path.is_file() else None


# --- channels and speakers ------------------------------------------------------------------------


def channel_keys(archive: Archive) -> list[str]:
    with archive.connect() as conn:
        return [row.key for row in catalog.channels(conn)]


def list_speakers(archive: Archive) -> list[Speaker]:
    """Every global speaker with its talk time and its longest line (a moment where it speaks)."""
    with archive.connect() as conn:
        rows = conn.execute(
            """
            SELECT sp.speaker_id, sp.name, sp.videos,
                   coalesce((SELECT sum(s.end_s - s.start_s) FROM transcript_segments s
                             JOIN segment_speakers ss ON ss.video_id = s.video_id AND ss.idx = s.idx
                             JOIN voice_embeddings ve ON ve.video_id = s.video_id AND ve.speaker = ss.speaker
                             WHERE ve.speaker_id = sp.speaker_id), 0),
                   ex.video_id, ex.start_s, ex.end_s, ex.text, ex.speaker
            FROM speakers sp
            LEFT JOIN LATERAL (
                SELECT s.video_id, s.start_s, s.end_s, s.text, ss.speaker FROM transcript_segments s
                JOIN segment_speakers ss ON ss.video_id = s.video_id AND ss.idx = s.idx
                JOIN voice_embeddings ve ON ve.video_id = s.video_id AND ve.speaker = ss.speaker
                WHERE ve.speaker_id = sp.speaker_id ORDER BY s.end_s - s.start_s DESC, s.video_id LIMIT 1
            ) ex ON true
            ORDER BY sp.speaker_id
            """
        ).fetchall()
    speakers = []
    for speaker_id, name, videos, talk, video_id, start, end, text, label in rows:
        example = None
        if video_id is not None:
            example = Line(start, end, text, label, speaker_id, display_name(speaker_id, name))
        speakers.append(Speaker(speaker_id, name, videos, float(talk), example, video_id))
    return speakers


def rename_speaker(archive: Archive, speaker_id: int, name: str) -> None:
    with archive.connect() as conn:
        speaker_store.name_speaker(conn, speaker_id, name)


def merge_speakers(archive: Archive, keep: int, other: int) -> None:
    with archive.connect() as conn:
        speaker_store.merge_speakers(conn, keep, other)
