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
from ytingest.store.vectors import vector_literal

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
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO transcript_segments (video_id, idx, start_s, end_s, text, words)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [(video_id, i, s.start, s.end, s.text, _words_json(s.words)) for i, s in enumerate(segments)],
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
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO segment_speakers (video_id, idx, speaker, word_speakers) VALUES (%s, %s, %s, %s)",
            [(video_id, i, s.speaker, [w.speaker for w in s.words] or None) for i, s in enumerate(segments)],
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
    conn.execute("DELETE FROM diarizations WHERE video_id = %s", (video_id,))  # cascades to turns
    conn.execute(
        "INSERT INTO diarizations (video_id, model, speakers) VALUES (%s, %s, %s)", (video_id, model, speakers)
    )
    rows = [(video_id, False, i, *t) for i, t in enumerate(turns)]
    rows += [(video_id, True, i, *t) for i, t in enumerate(exclusive_turns)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO speaker_turns (video_id, exclusive, idx, start_s, end_s, speaker) VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )


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
        literal = vector_literal(unit)
        best = conn.execute(
            "SELECT speaker_id, 1 - (centroid <=> %s::vector) AS similarity, centroid::text, videos FROM speakers"
            " WHERE model = %s AND vector_dims(centroid) = %s ORDER BY centroid <=> %s::vector LIMIT 1",
            (literal, model, unit.size, literal),
        ).fetchone()
        if best is not None and best[1] >= threshold:
            speaker_id, similarity = best[0], float(best[1])
            centroid = np.array(json.loads(best[2]), dtype=np.float64)
            merged = centroid * max(best[3], 1) + unit
            conn.execute(
                "UPDATE speakers SET centroid = %s::vector, videos = videos + 1 WHERE speaker_id = %s",
                (vector_literal(merged / np.linalg.norm(merged)), speaker_id),
            )
            created = False
        else:
            speaker_id = conn.execute(
                "INSERT INTO speakers (model, centroid, videos) VALUES (%s, %s::vector, 1) RETURNING speaker_id",
                (model, literal),
            ).fetchone()[0]
            similarity, created = None, True
        conn.execute(
            "INSERT INTO voice_embeddings (video_id, speaker, model, seconds, embedding, speaker_id, similarity)"
            " VALUES (%s, %s, %s, %s, %s::vector, %s, %s)",
            (video_id, speaker, model, seconds, literal, speaker_id, similarity),
        )
        matches.append(SpeakerMatch(speaker, speaker_id, similarity, created))
    return matches
