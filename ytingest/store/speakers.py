"""Global speakers with names: list, name, merge, and resolve an id or name.

A name lives on the global `speakers` row, which is what voice matching (`replace_voice_embeddings`)
links each video's voices to, so a re-run of a video links its voices to the same, named rows. A merge
moves the other speaker's voices and keeps a name."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import psycopg

from ytingest.core.moments import link_at
from ytingest.store.transcripts import REGISTRY_LOCK_ID

MAX_NAME_CHARS = 100


class SpeakerError(ValueError):
    """A speaker command or filter that cannot be carried out, in one line."""


@dataclass(frozen=True)
class SpeakerSummary:
    speaker_id: int
    name: str | None
    videos: int
    talk_seconds: float
    example_video_id: str | None  # the speaker's longest turn: a moment where they talk
    example_start: float | None
    example_url: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Voice:
    """Who a video-local diarization label is across videos."""

    label: str
    speaker_id: int | None
    name: str | None

    @property
    def display(self) -> str:
        if self.name:
            return self.name
        return f"speaker {self.speaker_id}" if self.speaker_id is not None else self.label


def display_name(speaker_id: int, name: str | None) -> str:
    return name or f"speaker {speaker_id}"


def resolve_speaker(conn: psycopg.Connection, speaker: str) -> int:
    """A global speaker id, or a name given to one (case-insensitive)."""
    text = speaker.strip()
    if text.isascii() and text.isdigit():  # '²' is a digit to isdigit(), not to int()
        row = conn.execute("SELECT speaker_id FROM speakers WHERE speaker_id = %s", (int(text),)).fetchone()
    else:
        row = conn.execute("SELECT speaker_id FROM speakers WHERE lower(name) = lower(%s)", (text,)).fetchone()
    if row is None:
        raise SpeakerError(f"no speaker {speaker!r}: give a global speaker id or a name set with `ytingest speakers name`")
    return row[0]


def check_channel(conn: psycopg.Connection, channel: str) -> None:
    if conn.execute("SELECT 1 FROM channels WHERE key = %s", (channel,)).fetchone() is None:
        raise SpeakerError(f"no channel {channel!r}: `ytingest channels list` shows the registered keys")


def list_speakers(conn: psycopg.Connection, channel: str | None = None) -> list[SpeakerSummary]:
    """Speakers heard in any video (of `channel`), most talk time first."""
    if channel is not None:
        check_channel(conn, channel)
    rows = conn.execute(
        """
        SELECT s.speaker_id, s.name, count(DISTINCT ve.video_id), coalesce(sum(ve.seconds), 0)
        FROM speakers s JOIN voice_embeddings ve USING (speaker_id)
        WHERE %(channel)s::text IS NULL OR EXISTS (
            SELECT 1 FROM channel_videos cv WHERE cv.video_id = ve.video_id AND cv.channel_key = %(channel)s)
        GROUP BY s.speaker_id, s.name
        ORDER BY 4 DESC, s.speaker_id
        """,
        {"channel": channel},
    ).fetchall()
    examples = _examples(conn, [row[0] for row in rows], channel)
    return [
        SpeakerSummary(speaker_id, name, videos, round(float(seconds), 1), *examples.get(speaker_id, (None, None, None)))
        for speaker_id, name, videos, seconds in rows
    ]


def _examples(conn: psycopg.Connection, ids: list[int], channel: str | None) -> dict[int, tuple[str, float, str]]:
    rows = conn.execute(
        """
        SELECT DISTINCT ON (ve.speaker_id) ve.speaker_id, t.video_id, t.start_s, v.url
        FROM voice_embeddings ve
        JOIN speaker_turns t ON t.video_id = ve.video_id AND t.speaker = ve.speaker AND t.exclusive
        JOIN videos v ON v.video_id = t.video_id
        WHERE ve.speaker_id = ANY(%(ids)s) AND (%(channel)s::text IS NULL OR EXISTS (
            SELECT 1 FROM channel_videos cv WHERE cv.video_id = ve.video_id AND cv.channel_key = %(channel)s))
        ORDER BY ve.speaker_id, t.end_s - t.start_s DESC, t.video_id, t.start_s
        """,
        {"ids": ids, "channel": channel},
    ).fetchall()
    return {sid: (video_id, start, link_at(video_id, url, start)) for sid, video_id, start, url in rows}


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise SpeakerError("a speaker name cannot be empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise SpeakerError(f"a speaker name has at most {MAX_NAME_CHARS} characters, got {len(cleaned)}")
    if cleaned.isdigit():
        raise SpeakerError(f"a speaker name cannot be only digits ({cleaned!r} reads as a speaker id)")
    if any(not ch.isprintable() for ch in cleaned):
        raise SpeakerError("a speaker name cannot contain control characters")
    return cleaned


def _require(conn: psycopg.Connection, speaker_id: int) -> tuple[str, str | None, int]:
    row = conn.execute("SELECT model, name, videos FROM speakers WHERE speaker_id = %s", (speaker_id,)).fetchone()
    if row is None:
        raise SpeakerError(f"no speaker {speaker_id}: `ytingest speakers list` shows the ids")
    return row


def name_speaker(conn: psycopg.Connection, speaker_id: int, name: str) -> str:
    """Give a speaker a name (unique regardless of case); returns the name as stored."""
    cleaned = _clean_name(name)
    _require(conn, speaker_id)
    holder = conn.execute(
        "SELECT speaker_id FROM speakers WHERE lower(name) = lower(%s) AND speaker_id <> %s", (cleaned, speaker_id)
    ).fetchone()
    if holder is not None:
        raise SpeakerError(
            f"speaker {holder[0]} is already named {cleaned!r}; if they are the same person run"
            f" `ytingest speakers merge {holder[0]} {speaker_id}`"
        )
    conn.execute("UPDATE speakers SET name = %s WHERE speaker_id = %s", (cleaned, speaker_id))
    return cleaned


def merge_speakers(conn: psycopg.Connection, keep: int, other: int) -> tuple[int, str | None]:
    """Fold `other` into `keep`: its voices, its videos and its share of the centroid. The name kept is
    `keep`'s, else `other`'s. Returns (keep, name)."""
    if keep == other:
        raise SpeakerError(f"cannot merge speaker {keep} with itself")
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK_ID,))
    keep_model, keep_name, keep_videos = _require(conn, keep)
    other_model, other_name, other_videos = _require(conn, other)
    if keep_model != other_model:
        raise SpeakerError(f"speakers {keep} and {other} come from different voice models ({keep_model}, {other_model})")
    sums = {
        sid: np.array(json.loads(total or centroid), dtype=np.float64) * (1 if total else max(videos, 1))
        for sid, centroid, total, videos in conn.execute(
            "SELECT speaker_id, centroid::text, total::text, videos FROM speakers WHERE speaker_id = ANY(%s)",
            ([keep, other],),
        )
    }  # a speaker's voices' sum (the registry keeps it as `total`; older rows only a centroid)
    merged = sums[keep] + sums[other]
    name = keep_name or other_name
    conn.execute("UPDATE voice_embeddings SET speaker_id = %s WHERE speaker_id = %s", (keep, other))
    conn.execute("DELETE FROM speakers WHERE speaker_id = %s", (other,))
    conn.execute(
        "UPDATE speakers SET total = %s, centroid = %s, videos = %s, name = %s WHERE speaker_id = %s",
        (merged, merged / np.linalg.norm(merged), keep_videos + other_videos, name, keep),
    )
    return keep, name


def voices(conn: psycopg.Connection, video_ids: Iterable[str]) -> dict[tuple[str, str], Voice]:
    """(video_id, local label) -> the global speaker and name behind it, for the given videos."""
    rows = conn.execute(
        "SELECT ve.video_id, ve.speaker, s.speaker_id, s.name FROM voice_embeddings ve"
        " LEFT JOIN speakers s USING (speaker_id) WHERE ve.video_id = ANY(%s)",
        (list(video_ids),),
    )
    return {(video_id, label): Voice(label, speaker_id, name) for video_id, label, speaker_id, name in rows}
