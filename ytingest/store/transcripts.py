"""SQL for transcripts, speaker turns and voice embeddings. Each `replace_*` swaps one video's rows
for one asset inside the caller's transaction, so a re-run never duplicates or orphans anything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from ytingest.core import registry
from ytingest.core.captions import Segment, Word
from ytingest.core.speakers import clamped_turns
from ytingest.store.bulk import copy_rows, execute_rows

REGISTRY_LOCK_ID = 0x7974_7370  # "ytsp": one writer at a time matches voices to global speakers


def audio_path(conn: psycopg.Connection, video_id: str) -> Path:
    row = conn.execute("SELECT path FROM audio WHERE video_id = %s", (video_id,)).fetchone()
    if row is None:
        raise LookupError(f"{video_id} has no audio row")
    return Path(row[0])


def caption_files(conn: psycopg.Connection, video_id: str) -> list[tuple[str, str, str, Path]]:
    rows = conn.execute("SELECT language, kind, format, path FROM captions WHERE video_id = %s", (video_id,))
    return [(language, kind, fmt, Path(path)) for language, kind, fmt, path in rows]


def _words_json(words: Sequence[Word]) -> str | None:
    if not words:
        return None
    return json.dumps([[round(w.start, 3), round(w.end, 3), w.text] for w in words])


def replace_transcript(
    conn: psycopg.Connection,
    video_id: str,
    segments: Sequence[Segment],
    *,
    source: str,
    caption_kind: str | None,
    language: str | None,
    model: str | None,
    audio_seconds: float,
    speech_seconds: float,
) -> None:
    conn.execute("DELETE FROM transcripts WHERE video_id = %s", (video_id,))  # cascades to segments
    conn.execute(
        "INSERT INTO transcripts (video_id, source, caption_kind, language, model, audio_seconds, speech_seconds)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (video_id, source, caption_kind, language, model, audio_seconds, speech_seconds),
    )
    copy_rows(
        conn,
        "COPY transcript_segments (video_id, idx, start_s, end_s, text, words) FROM STDIN",
        ((video_id, i, s.start, s.end, s.text, _words_json(s.words)) for i, s in enumerate(segments)),
    )


@dataclass(frozen=True)
class StoredTranscript:
    source: str
    speech_seconds: float
    audio_seconds: float
    segments: list[Segment]


def load_transcript(conn: psycopg.Connection, video_id: str) -> StoredTranscript | None:
    head = conn.execute(
        "SELECT source, speech_seconds, audio_seconds FROM transcripts WHERE video_id = %s", (video_id,)
    ).fetchone()
    if head is None:
        return None
    segments = []
    for start, end, text, words, speaker, word_speakers in conn.execute(
        "SELECT s.start_s, s.end_s, s.text, s.words, a.speaker, a.word_speakers"
        " FROM transcript_segments s LEFT JOIN segment_speakers a USING (video_id, idx)"
        " WHERE s.video_id = %s ORDER BY s.idx",
        (video_id,),
    ):
        words = words or []
        labels = word_speakers or [None] * len(words)
        parsed = tuple(Word(w[0], w[1], w[2], label) for w, label in zip(words, labels, strict=True))
        segments.append(Segment(start, end, text, parsed, speaker))
    return StoredTranscript(head[0], head[1], head[2], segments)


def replace_segment_speakers(conn: psycopg.Connection, video_id: str, segments: Sequence[Segment]) -> None:
    """Diarization's speaker for each segment of the current transcript (and for each of its words)."""
    conn.execute("DELETE FROM segment_speakers WHERE video_id = %s", (video_id,))
    execute_rows(
        conn,
        "INSERT INTO segment_speakers (video_id, idx, speaker, word_speakers) VALUES (%s, %s, %s, %s)",
        ((video_id, i, s.speaker, [w.speaker for w in s.words] or None) for i, s in enumerate(segments)),
    )


def turns(conn: psycopg.Connection, video_id: str, exclusive: bool) -> list[tuple[float, float, str]]:
    rows = conn.execute(
        "SELECT start_s, end_s, speaker FROM speaker_turns WHERE video_id = %s AND exclusive = %s ORDER BY idx",
        (video_id, exclusive),
    )
    return [tuple(row) for row in rows]


def replace_diarization(
    conn: psycopg.Connection,
    video_id: str,
    model: str,
    speakers: int,
    turns: Sequence[tuple[float, float, str]],
    exclusive_turns: Sequence[tuple[float, float, str]],
) -> None:
    """The video's turns, cut to its audio's length, so every stored turn can be read back from the WAV."""
    conn.execute("DELETE FROM diarizations WHERE video_id = %s", (video_id,))  # cascades to turns
    row = conn.execute(
        "INSERT INTO diarizations (video_id, model, speakers, audio_sha256)"
        " VALUES (%s, %s, %s, (SELECT sha256 FROM audio WHERE video_id = %s))"
        " RETURNING (SELECT duration_seconds FROM audio WHERE video_id = %s)",
        (video_id, model, speakers, video_id, video_id),
    ).fetchone()
    duration = row[0] if row else None
    rows = [(video_id, False, i, *t) for i, t in enumerate(clamped_turns(turns, duration))]
    rows += [(video_id, True, i, *t) for i, t in enumerate(clamped_turns(exclusive_turns, duration))]
    copy_rows(conn, "COPY speaker_turns (video_id, exclusive, idx, start_s, end_s, speaker) FROM STDIN", rows)


def diarized_this_audio(conn: psycopg.Connection, video_id: str) -> bool:
    """The stored diarization was computed from the very WAV the video has now (same checksum)."""
    row = conn.execute(
        "SELECT d.audio_sha256 = a.sha256 FROM diarizations d JOIN audio a USING (video_id) WHERE video_id = %s",
        (video_id,),
    ).fetchone()
    return bool(row and row[0])


def exclusive_turns(conn: psycopg.Connection, video_id: str) -> list[tuple[float, float, str]] | None:
    """None when the video was never diarized; [] when it was and nobody spoke."""
    if conn.execute("SELECT 1 FROM diarizations WHERE video_id = %s", (video_id,)).fetchone() is None:
        return None
    return turns(conn, video_id, exclusive=True)


@dataclass(frozen=True)
class SpeakerMatch:
    speaker: str
    speaker_id: int
    similarity: float | None  # None for a voice heard for the first time
    created: bool


def replace_voice_embeddings(
    conn: psycopg.Connection,
    video_id: str,
    model: str,
    embeddings: dict[str, tuple[np.ndarray, float]],
    threshold: float,
) -> list[SpeakerMatch]:
    """Store each local speaker's voice and link it to a global speaker of the same model: the video's
    old voices leave their speakers' centroids first, then its voices are matched one to one
    (`registry.match_voices`), each joining its speaker's sum or starting a new speaker. One writer at a
    time, so the result depends only on the order in which videos are written (see the README)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK_ID,))
    previous = conn.execute(
        "DELETE FROM voice_embeddings WHERE video_id = %s RETURNING speaker_id, embedding::text", (video_id,)
    ).fetchall()
    for speaker_id, embedding in previous:
        if speaker_id is not None:
            _move(conn, speaker_id, -_parse(embedding), -1)
    voices = sorted(embeddings.items())
    units = np.array([registry.unit(vector) for _, (vector, _) in voices])
    dims = units.shape[1] if len(voices) else 0
    known = conn.execute(
        "SELECT speaker_id, centroid::text FROM speakers WHERE model = %s AND vector_dims(centroid) = %s"
        " ORDER BY speaker_id",
        (model, dims),
    ).fetchall()
    centroids = np.array([_parse(text) for _, text in known]) if known else np.empty((0, dims))
    matches = []
    for (speaker, (_, seconds)), vector, index in zip(
        voices, units, registry.match_voices(units, centroids, threshold), strict=True
    ):
        if index is not None:
            speaker_id, similarity = known[index][0], float(vector @ centroids[index])
            _move(conn, speaker_id, vector, +1)
        else:
            speaker_id = conn.execute(
                "INSERT INTO speakers (model, centroid, total, videos) VALUES (%s, %s::vector, %s::vector, 1)"
                " RETURNING speaker_id",
                (model, vector, vector),
            ).fetchone()[0]
            similarity = None
        conn.execute(
            "INSERT INTO voice_embeddings (video_id, speaker, model, seconds, embedding, speaker_id, similarity)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (video_id, speaker, model, seconds, vector, speaker_id, similarity),
        )
        matches.append(SpeakerMatch(speaker, speaker_id, similarity, index is None))
    return matches


def _parse(text: str) -> np.ndarray:
    return np.array(json.loads(text), dtype=np.float64)


def _move(conn: psycopg.Connection, speaker_id: int, vector: np.ndarray, count: int) -> None:
    """Add a voice to (or, negated, take it out of) a speaker's sum. A speaker left with no voice keeps
    its last centroid, so that the same voice re-run finds its old id again."""
    centroid_text, total_text, videos = conn.execute(
        "SELECT centroid::text, total::text, videos FROM speakers WHERE speaker_id = %s", (speaker_id,)
    ).fetchone()
    total = _parse(total_text) if total_text else _parse(centroid_text) * max(videos, 1)
    total = total + vector
    count = max(videos + count, 0)  # one voice per video: matching is one to one
    direction = registry.centroid(total)
    conn.execute(
        "UPDATE speakers SET total = %s::vector, centroid = COALESCE(%s::vector, centroid), videos = %s"
        " WHERE speaker_id = %s",
        (total, direction, count, speaker_id),
    )
