"""Chunk rows with vectors per second through the project's write path (`replace_chunks`: DELETE +
COPY, one transaction per video) against plain psycopg `executemany` INSERTs of the same rows into a
table made `LIKE chunks INCLUDING ALL` (same columns, generated tsvector, GIN and partial HNSW indexes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bench.archive import add_channels, add_videos
from bench.corpus import sentences
from bench.environment import reset_archive
from bench.report import Report, Row

MODEL = "bench-writes-384"
DIMENSIONS = 384
PLAIN_TABLE = "bench_plain_chunks"


def sizes(quick: bool) -> tuple[int, int]:
    """(videos, chunks per video)."""
    return (4, 50) if quick else (40, 100)


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.store.vectors import ChunkRow

    reset_archive(url)
    videos, per_video = sizes(quick)
    ids = [f"write{n:05d}" for n in range(videos)]
    rng = np.random.default_rng(3)
    texts = sentences(per_video, seed=9)
    rows = [ChunkRow(i, i * 10.0, i * 10.0 + 10, ["SPEAKER_00"], 40, t) for i, t in enumerate(texts)]
    _prepare(url, ids)
    project = plain = 0.0
    # Interleaved per video, so both tables see the same index sizes and the same machine load.
    for video_id in ids:
        vectors = _unit(rng.normal(size=(per_video, DIMENSIONS)).astype(np.float32))
        project += _timed(url, _project_write, video_id, rows, vectors)
        plain += _timed(url, _plain_insert, video_id, rows, vectors)
    total = videos * per_video
    _drop(url)
    report.add(
        Row("writes", "chunk rows/s", total / project, "rows/s", total / plain,
            definition=f"{total} rows ({videos} videos x {per_video}, {DIMENSIONS}-dim vectors, HNSW + GIN indexes on both); "
            "project: `replace_chunks` (COPY); baseline: psycopg `executemany` INSERT, one transaction per video each")
    )  # fmt: skip
    report.details["writes"] = {"rows": total, "project_seconds": round(project, 3), "plain_seconds": round(plain, 3)}


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _prepare(url: str, ids: list[str]) -> None:
    from ytingest.store.vectors import ensure_model_index

    with psycopg.connect(url) as conn:
        add_channels(conn, ["benchwrites"])
        add_videos(conn, {v: "benchwrites" for v in ids})
        ensure_model_index(conn, MODEL, DIMENSIONS)
        conn.execute(f"DROP TABLE IF EXISTS {PLAIN_TABLE}")
        conn.execute(f"CREATE TABLE {PLAIN_TABLE} (LIKE chunks INCLUDING ALL)")


def _drop(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TABLE {PLAIN_TABLE}")


def _timed(url: str, write: Callable[..., None], *args: object) -> float:
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        register_vector(conn)  # both sides send vectors through pgvector's adapter (binary)
        write(conn, *args)
    return time.perf_counter() - started


def _project_write(conn: psycopg.Connection, video_id: str, rows, vectors: np.ndarray) -> None:
    from ytingest.store.vectors import replace_chunks

    replace_chunks(conn, video_id, MODEL, rows, vectors)


def _plain_insert(conn: psycopg.Connection, video_id: str, rows, vectors: np.ndarray) -> None:
    conn.execute(f"DELETE FROM {PLAIN_TABLE} WHERE video_id = %s AND model = %s", (video_id, MODEL))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {PLAIN_TABLE} (video_id, model, idx, start_s, end_s, speakers, token_count, text, embedding)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (video_id, MODEL, r.idx, r.start_s, r.end_s, list(r.speakers), r.token_count, r.text, v)
                for r, v in zip(rows, vectors, strict=True)
            ],
        )
