"""Chunk vectors in Postgres: one table for every embedding model, one partial HNSW index per model.

The `embedding` column is an untyped `vector`, so rows of a 1536-dimension model and a 384-dimension
model live side by side; each model's index is an expression index on `embedding::vector(dim)`
restricted to that model's rows, which is also what a query must say to use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from ytingest.core.moments import Mark, marks_to_json
from ytingest.store.bulk import copy_rows

INDEX_LOCK_ID = 0x7974_7665  # "ytve"
HNSW_MAX_DIMENSIONS = {"vector": 2000, "halfvec": 4000}
CHUNK_TYPES = ("text", "text", "int4", "float8", "float8", "text[]", "int4", "text", "vector", "jsonb")


class DimensionMismatch(ValueError):
    """A model's vectors do not have the dimension recorded (or configured) for it."""


@dataclass(frozen=True)
class ModelIndex:
    model: str
    dimensions: int
    index_name: str
    kind: str  # vector | halfvec

    def cast(self) -> sql.Composable:
        """The expression the index is built on; queries must use the same one to be served by it."""
        return sql.SQL("(embedding::{}({}))").format(sql.SQL(self.kind), sql.Literal(self.dimensions))


def index_name(model: str) -> str:
    return "chunks_hnsw_" + hashlib.sha256(model.encode()).hexdigest()[:16]


def ensure_model_index(conn: psycopg.Connection, model: str, dimensions: int, halfvec: bool = False) -> ModelIndex:
    """Record the model and create its partial HNSW index once; refuse a dimension change."""
    kind = "halfvec" if halfvec else "vector"
    if dimensions > HNSW_MAX_DIMENSIONS[kind]:
        # pgvector's HNSW caps dimensions; halfvec doubles the cap (gte-Qwen2's 1536 fits either).
        raise DimensionMismatch(f"{model}: {dimensions} dimensions exceed HNSW's {HNSW_MAX_DIMENSIONS[kind]} for {kind}")
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK_ID,))
    row = conn.execute("SELECT dimensions, index_name FROM embedding_models WHERE model = %s", (model,)).fetchone()
    if row is not None and row[0] != dimensions:
        raise DimensionMismatch(
            f"{model} produced {dimensions}-dimension vectors but {row[0]} are stored for it; "
            "re-embed under a new model name"
        )
    index = ModelIndex(model, dimensions, index_name(model), kind)
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON chunks USING hnsw ({expr} {ops}) WHERE model = {model}"
        ).format(
            name=sql.Identifier(index.index_name),
            expr=index.cast(),
            ops=sql.SQL(f"{kind}_cosine_ops"),
            model=sql.Literal(model),
        )
    )
    if row is None:
        conn.execute(
            "INSERT INTO embedding_models (model, dimensions, index_name) VALUES (%s, %s, %s)",
            (model, dimensions, index.index_name),
        )
    return index


def model_index(conn: psycopg.Connection, model: str) -> ModelIndex | None:
    row = conn.execute("SELECT dimensions, index_name FROM embedding_models WHERE model = %s", (model,)).fetchone()
    if row is None:
        return None
    kind = conn.execute(
        "SELECT CASE WHEN indexdef LIKE '%%halfvec%%' THEN 'halfvec' ELSE 'vector' END FROM pg_indexes"
        " WHERE indexname = %s",
        (row[1],),
    ).fetchone()
    return ModelIndex(model, row[0], row[1], kind[0] if kind else "vector")


@dataclass(frozen=True)
class ChunkRow:
    idx: int
    start_s: float
    end_s: float
    speakers: Sequence[str]
    token_count: int
    text: str
    marks: Sequence[Mark] = ()  # the words' places, times and speakers (ytingest.core.moments)


def replace_chunks(
    conn: psycopg.Connection, video_id: str, model: str, chunks: Sequence[ChunkRow], vectors: np.ndarray
) -> int:
    """Swap a video's chunks for one model, in the caller's transaction, with binary COPY (BATCH_SIZE rows
    a COPY). The connection needs pgvector's types registered (pooled connections have them)."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if len(vectors) and not np.isfinite(vectors).all():
        raise ValueError(f"{video_id}: refusing to store NaN or infinite vectors")
    conn.execute("DELETE FROM chunks WHERE video_id = %s AND model = %s", (video_id, model))
    rows = (
        (
            video_id, model, c.idx, c.start_s, c.end_s, list(c.speakers), c.token_count, c.text, vector,
            marks_to_json(c.marks) if c.marks else None,
        )
        for c, vector in zip(chunks, vectors, strict=True)
    )  # fmt: skip
    return copy_rows(
        conn,
        "COPY chunks (video_id, model, idx, start_s, end_s, speakers, token_count, text, embedding, marks)"
        " FROM STDIN WITH (FORMAT BINARY)",
        rows,
        CHUNK_TYPES,
    )
