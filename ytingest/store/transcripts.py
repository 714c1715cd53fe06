"""SQL for transcripts, speaker turns and voice embeddings. Each `replace_*` swaps one video's rows
for one asset inside the caller's transaction, so a re-run never duplicates or orphans anything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from ytingest.core.captions import Segment, Word
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
    return json.dumps([[round(w.start, 3), round(w.end, 3), w.text, w.speaker] for w in words])


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
        "COPY transcript_segments (video_id, idx, start_s, end_s, text, words, speaker) FROM STDIN",
        ((video_id, i, s.start, s.end, s.text, _words_json(s.words), s.speaker) for i, s in enumerate(segments)),
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
    for start, end, text, words, speaker in conn.execute(
        "SELECT start_s, end_s, text, words, speaker FROM transcript_segments WHERE video_id = %s ORDER BY idx",
        (video_id,),
    ):
        parsed = tuple(Word(w[0], w[1], w[2], w[3]) for w in (words or []))
        segments.append(Segment(start, end, text, parsed, speaker))
    return StoredTranscript(head[0], head[1], head[2], segments)


def set_segment_speakers(conn: psycopg.Connection, video_id: str, segments: Sequence[Segment]) -> None:
    execute_rows(
        conn,
        "UPDATE transcript_segments SET speaker = %s, words = %s WHERE video_id = %s AND idx = %s",
        ((s.speaker, _words_json(s.words), video_id, i) for i, s in enumerate(segments)),
    )


def replace_diarization(
    conn: psycopg.Connection,
    video_id: str,
    model: str,
    speakers: int,
    turns: Sequence[tuple[float, float, str]],
    exclusive_turns: Sequence[tuple[float, float, str]],
) -> None:
    conn.execute("DELETE FROM diarizations WHERE video_id = %s", (video_id,))  # cascades to turns
    conn.execute(
        "INSERT INTO diarizations (video_id, model, speakers) VALUES (%s, %s, %s)", (video_id, model, speakers)
    )
    rows = [(video_id, False, i, *t) for i, t in enumerate(turns)]
    rows += [(video_id, True, i, *t) for i, t in enumerate(exclusive_turns)]
    copy_rows(conn, "COPY speaker_turns (video_id, exclusive, idx, start_s, end_s, speaker) FROM STDIN", rows)


def exclusive_turns(conn: psycopg.Connection, video_id: str) -> list[tuple[float, float, str]] | None:
    """None when the video was never diarized; [] when it was and nobody spoke."""
    if conn.execute("SELECT 1 FROM diarizations WHERE video_id = %s", (video_id,)).fetchone() is None:
        return None
    rows = conn.execute(
        "SELECT start_s, end_s, speaker FROM speaker_turns WHERE video_id = %s AND exclusive ORDER BY idx",
        (video_id,),
    )
    return [tuple(row) for row in rows]


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
    """Store each local speaker's voice and link it to the most similar global speaker of the same
    model above `threshold` (updating that speaker's centroid), or to a new one."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (REGISTRY_LOCK_ID,))
    previous = conn.execute(
        "DELETE FROM voice_embeddings WHERE video_id = %s RETURNING speaker_id", (video_id,)
    ).fetchall()
    for (speaker_id,) in previous:
        if speaker_id is not None:
            conn.execute("UPDATE speakers SET videos = greatest(videos - 1, 0) WHERE speaker_id = %s", (speaker_id,))
    matches = []
    for speaker, (vector, seconds) in sorted(embeddings.items()):
        unit = vector / np.linalg.norm(vector)
        best = conn.execute(
            "SELECT speaker_id, 1 - (centroid <=> %s) AS similarity, centroid, videos FROM speakers"
            " WHERE model = %s AND vector_dims(centroid) = %s ORDER BY centroid <=> %s LIMIT 1",
            (unit, model, unit.size, unit),
        ).fetchone()
        if best is not None and best[1] >= threshold:
            speaker_id, similarity = best[0], float(best[1])
            merged = best[2].to_numpy().astype(np.float64) * max(best[3], 1) + unit
            conn.execute(
                "UPDATE speakers SET centroid = %s, videos = videos + 1 WHERE speaker_id = %s",
                (merged / np.linalg.norm(merged), speaker_id),
            )
            created = False
        else:
            speaker_id = conn.execute(
                "INSERT INTO speakers (model, centroid, videos) VALUES (%s, %s, 1) RETURNING speaker_id",
                (model, unit),
            ).fetchone()[0]
            similarity, created = None, True
        conn.execute(
            "INSERT INTO voice_embeddings (video_id, speaker, model, seconds, embedding, speaker_id, similarity)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (video_id, speaker, model, seconds, unit, speaker_id, similarity),
        )
        matches.append(SpeakerMatch(speaker, speaker_id, similarity, created))
    return matches
