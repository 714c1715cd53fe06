"""Bulk writes: BATCH_SIZE is the rows per COPY or pipelined batch, counted at the client's cursor;
vectors go through pgvector's adapter (binary COPY, numpy parameters), halfvec indexes included."""

import datetime as dt

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg import sql

from ytingest.core.captions import Segment, Word
from ytingest.core.identifiers import ChannelSpec
from ytingest.core.listing import ListedVideo
from ytingest.store import catalog
from ytingest.store import transcripts as transcript_store
from ytingest.store.search import Filters, _filter_sql, vector_ranking, vector_statement
from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

AT = dt.datetime(2026, 11, 8, 12, tzinfo=dt.UTC)
CALLS: list[str] = []


class CountingCursor(psycopg.Cursor):
    """A real cursor that records each COPY and each executemany it sends."""

    def copy(self, statement, *args, **kwargs):
        CALLS.append("copy")
        return super().copy(statement, *args, **kwargs)

    def executemany(self, query, params_seq, **kwargs):
        CALLS.append("executemany")
        return super().executemany(query, params_seq, **kwargs)


def _connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, cursor_factory=CountingCursor)
    register_vector(conn)
    return conn


def _listing(count: int) -> list[ListedVideo]:
    return [
        ListedVideo(f"bulk{n:03d}", "Generic", f"http://127.0.0.1:9/bulk{n:03d}.mp4", f"Bulk {n}", AT, True)
        for n in range(count)
    ]


def _write_everything(url: str) -> dict[str, int]:
    """A listing of 5 videos, a transcript of 5 segments, 7 speaker turns and 7 chunks; calls per write."""
    per_write = {}
    with _connect(url) as conn:
        catalog.add_channel(conn, ChannelSpec("bulk", "http://127.0.0.1:9/bulk.rss", "feed", None, None))
        CALLS.clear()
        catalog.record_listing(conn, "bulk", _listing(5), "Bulk", None)
        per_write["listing"] = CALLS.count("copy")
        video_id = conn.execute("SELECT video_id FROM channel_videos ORDER BY video_id LIMIT 1").fetchone()[0]
        segments = [
            Segment(i * 2.0, i * 2.0 + 2, f"segment {i}", (Word(i * 2.0, i * 2.0 + 1, "segment"),)) for i in range(5)
        ]
        CALLS.clear()
        transcript_store.replace_transcript(
            conn, video_id, segments, source="captions", caption_kind="manual", language="en", model=None,
            audio_seconds=10.0, speech_seconds=10.0,
        )  # fmt: skip
        per_write["segments"] = CALLS.count("copy")
        CALLS.clear()
        turns = [(i * 1.0, i * 1.0 + 1, f"SPEAKER_0{i % 2}") for i in range(7)]
        transcript_store.replace_diarization(conn, video_id, "m", 2, turns, [])
        per_write["turns"] = CALLS.count("copy")
        CALLS.clear()
        labelled = [Segment(s.start, s.end, s.text, s.words, "SPEAKER_00") for s in segments]
        transcript_store.replace_segment_speakers(conn, video_id, labelled)
        per_write["speakers"] = CALLS.count("executemany")
        ensure_model_index(conn, "bulk-8", 8)
        vectors = np.random.default_rng(1).normal(size=(7, 8)).astype(np.float32)
        CALLS.clear()
        replace_chunks(conn, video_id, "bulk-8", [ChunkRow(i, i, i + 1.0, ["SPEAKER_00"], 3, f"c {i}") for i in range(7)], vectors)
        per_write["chunks"] = CALLS.count("copy")
        stored = conn.execute("SELECT embedding, speakers FROM chunks WHERE video_id = %s ORDER BY idx", (video_id,)).fetchall()
        assert np.array_equal(np.stack([row[0].to_numpy() for row in stored]), vectors)  # binary COPY: exact float32
        assert {tuple(row[1]) for row in stored} == {("SPEAKER_00",)}
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM channel_videos WHERE channel_key = 'bulk'),"
            " (SELECT count(*) FROM segment_speakers WHERE video_id = %s AND speaker = 'SPEAKER_00'),"
            " (SELECT count(*) FROM speaker_turns WHERE video_id = %s),"
            " (SELECT words->0->>2 FROM transcript_segments WHERE video_id = %s AND idx = 4)",
            (video_id, video_id, video_id),
        ).fetchone()
        assert counts == (5, 5, 7, "segment")
    return per_write


def test_batch_size_is_the_rows_per_bulk_write(archive, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "2")
    small = _write_everything(archive)
    with psycopg.connect(archive) as conn:
        conn.execute("TRUNCATE channels, videos, embedding_models CASCADE")
    monkeypatch.setenv("BATCH_SIZE", "500")
    large = _write_everything(archive)
    # 5 listed videos, 5 segments, 7 turns, 5 speaker updates, 7 chunks: ceil(rows / BATCH_SIZE) each.
    assert small == {"listing": 3, "segments": 3, "turns": 4, "speakers": 3, "chunks": 4}
    assert large == {"listing": 1, "segments": 1, "turns": 1, "speakers": 1, "chunks": 1}


def test_a_listing_in_batches_keeps_exact_dates_over_estimates(archive, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "2")
    with _connect(archive) as conn:
        catalog.add_channel(conn, ChannelSpec("bulk", "http://127.0.0.1:9/bulk.rss", "feed", None, None))
        catalog.record_listing(conn, "bulk", _listing(3), None, None)
        estimated = [
            ListedVideo(v.source_id, v.extractor, v.url, "Renamed", AT - dt.timedelta(days=9), False) for v in _listing(3)
        ]
        assert catalog.record_listing(conn, "bulk", estimated, None, None) == 3
        rows = conn.execute("SELECT title, published_date, date_exact FROM videos ORDER BY video_id").fetchall()
    assert rows == [("Renamed", AT.date(), True)] * 3


@pytest.mark.parametrize("halfvec", [False, True], ids=["vector", "halfvec"])
def test_numpy_vectors_rank_through_either_index_kind(archive, halfvec):
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    model = f"bulk-16-{'half' if halfvec else 'full'}"
    with _connect(archive) as conn:
        conn.execute("INSERT INTO videos (video_id, source_id, url, title) VALUES ('vecs', 'v', 'http://x/v', 'v')")
        index = ensure_model_index(conn, model, 16, halfvec=halfvec)
        replace_chunks(conn, "vecs", model, [ChunkRow(i, i, i + 1.0, [], 2, f"c {i}") for i in range(60)], vectors)
        conn.execute("ANALYZE chunks")
        query = vectors[17] + 0.01 * rng.normal(size=16).astype(np.float32)
        where, params = _filter_sql(Filters(), None)
        with conn.transaction():
            for planner_path in ("seqscan", "bitmapscan", "sort"):  # 60 rows: make the index the only way
                conn.execute(f"SET LOCAL enable_{planner_path} = off")
            found = vector_ranking(conn, index, query, where, params, 5)
            statement, args = vector_statement(conn, index, query, where, params, 5)
            plan = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + statement, args))
        idx_of = dict(conn.execute("SELECT chunk_id, idx FROM chunks WHERE model = %s", (model,)).fetchall())
    assert index.kind == ("halfvec" if halfvec else "vector")
    assert index.index_name in plan, plan
    # relaxed_order may swap near neighbours; the five found are the true five.
    assert {idx_of[c] for c in found} == set(np.argsort(-(vectors @ query))[:5].tolist())


def test_voice_registry_links_a_returning_voice_and_moves_its_centroid(archive):
    first = np.zeros(8, dtype=np.float32)
    first[0] = 1.0
    second = first.copy()
    second[1] = 0.2
    unit_second = second / np.linalg.norm(second)
    with _connect(archive) as conn:
        for video_id in ("voiceA", "voiceB"):
            conn.execute("INSERT INTO videos (video_id, source_id, url, title) VALUES (%s, %s, 'http://x/v', 'v')", (video_id, video_id))
        (new,) = transcript_store.replace_voice_embeddings(conn, "voiceA", "ecapa", {"SPEAKER_00": (first * 3, 5.0)}, 0.7)
        (again,) = transcript_store.replace_voice_embeddings(conn, "voiceB", "ecapa", {"SPEAKER_01": (second, 4.0)}, 0.7)
        centroid, videos = conn.execute("SELECT centroid, videos FROM speakers").fetchone()
        stored = conn.execute("SELECT embedding FROM voice_embeddings WHERE video_id = 'voiceB'").fetchone()[0]
    assert new.created and not again.created and again.speaker_id == new.speaker_id
    assert again.similarity == pytest.approx(float(first @ unit_second), abs=1e-6)
    merged = first + unit_second
    assert np.allclose(centroid.to_numpy(), merged / np.linalg.norm(merged), atol=1e-6) and videos == 2
    assert np.allclose(stored.to_numpy(), unit_second, atol=1e-6)
