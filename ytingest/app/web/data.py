"""Everything the web pages read or change, as small functions over the archive.

The pages call only these, so the search, transcript and speaker code behind them can change in one place
(issue 14's `run_search`, `render_transcript` and `ytingest.store.speakers` are meant to replace the SQL
here). Each function opens its own connection: one short transaction per request."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ytingest.core.identifiers import is_youtube_video_id, validate_video_id
from ytingest.settings import get_settings
from ytingest.store import catalog
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
            return self._encoder.plan.name, self._encoder.encode([text])[0]

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
        return search(conn, model, query, vector, Filters(channel, speaker, since), limit)


def hit_moments(archive: Archive, hits: list[Hit], query: str) -> list[Line | None]:
    """For each hit, the transcript segment inside its passage that matches the query best (full-text
    rank, then the earliest): where the words are spoken, not where the chunk starts. Issue 14 makes the
    hit's own time the moment; this then finds the same segment again."""
    # Any of the query's words counts (a line rarely holds them all); ts_rank then prefers lines with more.
    any_word = " | ".join(f"'{word}'" for word in re.findall(r"[^\W_]+", query))
    moments = []
    with archive.connect() as conn:
        for hit in hits:
            row = conn.execute(
                _LINE_SELECT
                + " WHERE s.video_id = %s AND s.end_s > %s AND s.start_s < %s"
                " ORDER BY ts_rank(to_tsvector('english', s.text), to_tsquery('english', %s)) DESC, s.start_s LIMIT 1",
                (hit.video_id, hit.start, max(hit.end, hit.start + 0.001), any_word),
            ).fetchone()
            moments.append(_line(row) if row else None)
    return moments


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
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise DataError("a speaker's name is 1 to 100 characters")
    if name.isdigit():
        raise DataError("a speaker's name cannot be a number (numbers are speaker ids in --speaker)")
    with archive.connect() as conn:
        taken = conn.execute(
            "SELECT speaker_id FROM speakers WHERE name = %s AND speaker_id <> %s", (name, speaker_id)
        ).fetchone()
        if taken:
            raise DataError(f"speaker {taken[0]} is already called {name!r}; merge them instead")
        if conn.execute("UPDATE speakers SET name = %s WHERE speaker_id = %s", (name, speaker_id)).rowcount == 0:
            raise DataError(f"no speaker {speaker_id}")


def merge_speakers(archive: Archive, keep: int, other: int) -> None:
    """`other`'s voices become `keep`'s: the centroid is the video-weighted mean of both, the name is
    `keep`'s, else `other`'s; `other` is removed. One transaction."""
    if keep == other:
        raise DataError("pick two different speakers to merge")
    with archive.connect() as conn:
        rows = {
            row[0]: row
            for row in conn.execute(
                "SELECT speaker_id, model, centroid, videos, name FROM speakers"
                " WHERE speaker_id = ANY(%s) FOR UPDATE",
                ([keep, other],),
            )
        }
        for speaker_id in (keep, other):
            if speaker_id not in rows:
                raise DataError(f"no speaker {speaker_id}")
        if rows[keep][1] != rows[other][1]:
            raise DataError(f"speakers {keep} and {other} come from different voice models")
        merged = sum(rows[s][2].to_numpy() * max(rows[s][3], 1) for s in (keep, other))
        conn.execute("UPDATE voice_embeddings SET speaker_id = %s WHERE speaker_id = %s", (keep, other))
        conn.execute("DELETE FROM speakers WHERE speaker_id = %s", (other,))
        conn.execute(
            "UPDATE speakers SET centroid = %s::vector, videos = videos + %s, name = coalesce(name, %s)"
            " WHERE speaker_id = %s",
            (merged / np.linalg.norm(merged), rows[other][3], rows[other][4], keep),
        )
