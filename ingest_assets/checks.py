"""Asset checks, evaluated over the videos of the run's partitions and shown in the UI beside each asset."""

from __future__ import annotations

import dagster as dg
import psycopg

MIN_SPEECH_COVERAGE = 0.5  # captions and ASR both skip breaths and music; half the speech is the alarm line

TRANSCRIPT_CHECKS = [
    dg.AssetCheckSpec("covers_detected_speech", asset="transcripts", description="Text spans at least half the speech VAD found"),
]
DIARIZATION_CHECKS = [
    dg.AssetCheckSpec("segments_have_speakers", asset="diarization", description="Every segment of a diarized video with speakers has one"),
]
VOICE_CHECKS = [
    dg.AssetCheckSpec("voices_linked", asset="voice_embeddings", description="Every stored voice belongs to a global speaker"),
]
TEXT_CHECKS = [
    dg.AssetCheckSpec("chunks_embedded", asset="text_embeddings", description="Chunk and embedding counts agree, no NaN or zero vectors"),
    dg.AssetCheckSpec("dimensions_agree", asset="text_embeddings", description="Every vector has its model's recorded dimension"),
]


def _result(name: str, asset: str, bad: list, total: int, what: str) -> dg.AssetCheckResult:
    """A check over no videos does not pass: it says it checked nothing (Dagster needs a result for each
    declared check, so it cannot be left out)."""
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=bool(total) and not bad,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if total else "no videos to check in this run",
        metadata={"videos_checked": total, "failing": dg.MetadataValue.json(bad[:50]), "what": what},
    )


def transcript_checks(conn: psycopg.Connection, video_ids: list[str]) -> list[dg.AssetCheckResult]:
    rows = conn.execute(
        """
        SELECT t.video_id, t.speech_seconds, coalesce(sum(s.end_s - s.start_s), 0)
        FROM transcripts t LEFT JOIN transcript_segments s USING (video_id)
        WHERE t.video_id = ANY(%s) GROUP BY t.video_id, t.speech_seconds
        """,
        (video_ids,),
    ).fetchall()
    bad = [
        {"video_id": v, "speech_s": round(speech, 1), "text_s": round(text, 1)}
        for v, speech, text in rows
        if speech > 1.0 and text < MIN_SPEECH_COVERAGE * speech
    ]
    return [_result("covers_detected_speech", "transcripts", bad, len(rows), "segment time / detected speech")]


def diarization_checks(conn: psycopg.Connection, video_ids: list[str]) -> list[dg.AssetCheckResult]:
    rows = conn.execute(
        """
        SELECT d.video_id, count(s.idx) FILTER (WHERE a.speaker IS NULL)
        FROM diarizations d LEFT JOIN transcript_segments s USING (video_id)
        LEFT JOIN segment_speakers a ON a.video_id = s.video_id AND a.idx = s.idx
        WHERE d.video_id = ANY(%s) AND d.speakers > 0 GROUP BY d.video_id
        """,
        (video_ids,),
    ).fetchall()
    bad = [{"video_id": v, "unlabelled_segments": n} for v, n in rows if n]
    return [_result("segments_have_speakers", "diarization", bad, len(rows), "segments without a speaker")]


def voice_checks(conn: psycopg.Connection, video_ids: list[str]) -> list[dg.AssetCheckResult]:
    rows = conn.execute(
        "SELECT video_id, speaker FROM voice_embeddings WHERE video_id = ANY(%s) AND speaker_id IS NULL",
        (video_ids,),
    ).fetchall()
    total = conn.execute("SELECT count(DISTINCT video_id) FROM voice_embeddings WHERE video_id = ANY(%s)", (video_ids,)).fetchone()[0]
    bad = [{"video_id": v, "speaker": s} for v, s in rows]
    return [_result("voices_linked", "voice_embeddings", bad, total, "voices without a global speaker")]


def text_checks(conn: psycopg.Connection, video_ids: list[str], model: str) -> list[dg.AssetCheckResult]:
    counts = conn.execute(
        """
        SELECT c.video_id, count(*), count(*) FILTER (WHERE vector_norm(c.embedding) = 0 OR vector_norm(c.embedding) = 'NaN'),
               count(*) FILTER (WHERE vector_dims(c.embedding) <> m.dimensions)
        FROM chunks c JOIN embedding_models m USING (model)
        WHERE c.video_id = ANY(%s) AND c.model = %s GROUP BY c.video_id
        """,
        (video_ids, model),
    ).fetchall()
    degenerate = [{"video_id": v, "zero_or_nan": z} for v, _, z, _ in counts if z]
    wrong_dims = [{"video_id": v, "wrong_dimension": w} for v, _, _, w in counts if w]
    transcribed = conn.execute(
        """
        SELECT t.video_id FROM transcripts t JOIN video_steps s ON s.video_id = t.video_id AND s.asset = 'text_embeddings'
        WHERE t.video_id = ANY(%s) AND s.status = 'succeeded'
          AND EXISTS (SELECT 1 FROM transcript_segments g WHERE g.video_id = t.video_id)
          AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.video_id = t.video_id AND c.model = %s)
        """,
        (video_ids, model),
    ).fetchall()
    missing = [{"video_id": v, "problem": "transcript has text but no chunks"} for (v,) in transcribed]
    return [
        _result("chunks_embedded", "text_embeddings", degenerate + missing, len(counts), "chunks vs vectors"),
        _result("dimensions_agree", "text_embeddings", wrong_dims, len(counts), "vector_dims vs the model's"),
    ]
