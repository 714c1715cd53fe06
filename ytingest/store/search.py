"""Hybrid search over transcript chunks: pgvector similarity and Postgres full-text match, fused by
reciprocal rank. Filters (channel, speaker, date) stay inside both queries. A filter that keeps few
chunks is ranked exactly over its rows (the HNSW graph would be walked far to find them); otherwise the
HNSW scan is iterative, so it still returns K hits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import psycopg
from psycopg import sql

from ytingest.core.identifiers import is_youtube_video_id
from ytingest.store.vectors import ModelIndex, model_index

RRF_K = 60  # the usual reciprocal-rank constant: rank 1 scores 1/61, so neither list dominates
CANDIDATES_PER_HIT = 4
# Below this many matching chunks the filter's rows are ranked exactly. Measured at 100k 384-dim chunks
# on 2 CPU cores: exact costs ~0.65 us a row (p95 9 ms at 10k rows, plus ~1.3 ms to count them), while the
# iterative HNSW scan costs more the rarer the filter (p95 21 ms at 5k rows, 9 ms at 10k): they cross near
# 10k. A bigger archive only makes 10k rows rarer, so HNSW slower there; the cap keeps exact's worst case
# near 10 ms and its materialised distances (~0.5 MB) inside work_mem.
EXACT_BELOW_ROWS = 10_000


class SearchError(ValueError):
    """The search cannot run as asked (no chunks for the model, unknown speaker, ...)."""


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    speaker: str | None = None  # a global speaker id, or a name given to one
    since: dt.date | None = None


@dataclass(frozen=True)
class Hit:
    video_id: str
    channel: str
    title: str
    speaker: str | None
    start: float
    end: float
    text: str
    url: str
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Ids ordered by the sum of 1/(k + rank) over the rankings they appear in (rank from 1)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def link_at(video_id: str, url: str, seconds: float) -> str:
    """A link that opens the video at `seconds`."""
    whole = max(0, int(seconds))
    if is_youtube_video_id(video_id) and ("youtube.com" in url or "youtu.be" in url):
        return f"https://youtu.be/{video_id}?t={whole}"
    return f"{url.split('#', 1)[0]}#t={whole}"


def _filter_sql(filters: Filters, speaker_id: int | None) -> tuple[sql.Composable, list]:
    clauses, params = [sql.SQL("c.model = %s")], []
    if filters.channel is not None:
        clauses.append(
            sql.SQL("EXISTS (SELECT 1 FROM channel_videos cv WHERE cv.video_id = c.video_id AND cv.channel_key = %s)")
        )
        params.append(filters.channel)
    if speaker_id is not None:
        clauses.append(
            sql.SQL(
                "EXISTS (SELECT 1 FROM voice_embeddings ve WHERE ve.video_id = c.video_id"
                " AND ve.speaker_id = %s AND ve.speaker = ANY(c.speakers))"
            )
        )
        params.append(speaker_id)
    if filters.since is not None:
        clauses.append(
            sql.SQL("EXISTS (SELECT 1 FROM videos fv WHERE fv.video_id = c.video_id AND fv.published_date >= %s)")
        )
        params.append(filters.since)
    return sql.SQL(" AND ").join(clauses), params


def _speaker_id(conn: psycopg.Connection, speaker: str | None) -> int | None:
    if speaker is None:
        return None
    if speaker.isascii() and speaker.isdigit():  # '²' is a digit to isdigit(), not to int()
        row = conn.execute("SELECT speaker_id FROM speakers WHERE speaker_id = %s", (int(speaker),)).fetchone()
    else:
        row = conn.execute("SELECT speaker_id FROM speakers WHERE name = %s", (speaker,)).fetchone()
    if row is None:
        raise SearchError(f"no speaker {speaker!r}: give a global speaker id or a name set on one")
    return row[0]


def matching_rows(conn: psycopg.Connection, where: sql.Composable, params: list, cap: int) -> int:
    """How many chunks pass the filter, counted no further than `cap`, so a common filter costs at most
    `cap` index entries; the planner's own estimate is blind to the EXISTS filters."""
    statement = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE {where} LIMIT %s) s").format(where=where)
    return conn.execute(statement, [*params, cap]).fetchone()[0]


def vector_statement(
    conn: psycopg.Connection, index: ModelIndex, query: np.ndarray, where: sql.Composable, params: list, limit: int
) -> tuple[sql.Composable, list]:
    """The nearest-chunks query and its arguments: exact over the filtered rows when a filter keeps fewer
    than EXACT_BELOW_ROWS chunks, else the HNSW scan. `params` are the filter's, after the model."""
    distance = sql.SQL("(c.embedding::{kind}({dims})) <=> %s::{kind}({dims})").format(
        kind=sql.SQL(index.kind), dims=sql.Literal(index.dimensions)
    )
    filter_params, vector = [index.model, *params], query
    if params and matching_rows(conn, where, filter_params, EXACT_BELOW_ROWS) < EXACT_BELOW_ROWS:
        # MATERIALIZED keeps the planner from pushing ORDER BY into the HNSW index: the filter runs first
        # through the b-trees, then every surviving row is ranked (recall 1.0).
        statement = sql.SQL(
            "WITH filtered AS MATERIALIZED (SELECT c.chunk_id, {distance} AS distance FROM chunks c WHERE {where})"
            " SELECT chunk_id FROM filtered ORDER BY distance LIMIT %s"
        ).format(distance=distance, where=where)
        return statement, [vector, *filter_params, limit]
    statement = sql.SQL("SELECT c.chunk_id FROM chunks c WHERE {where} ORDER BY {distance} LIMIT %s").format(
        where=where, distance=distance
    )
    return statement, [*filter_params, vector, limit]


def vector_ranking(
    conn: psycopg.Connection, index: ModelIndex, query: np.ndarray, where: sql.Composable, params: list, limit: int
) -> list[int]:
    # Iterative scans keep walking the HNSW graph until enough rows pass the filter.
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(40, min(limit, 1000)))))
    statement, args = vector_statement(conn, index, query, where, params, limit)
    return [row[0] for row in conn.execute(statement, args).fetchall()]


def keyword_ranking(
    conn: psycopg.Connection, model: str, text: str, where: sql.Composable, params: list, limit: int
) -> list[int]:
    statement = sql.SQL(
        "SELECT c.chunk_id FROM chunks c, websearch_to_tsquery('english', %s) q"
        " WHERE c.tsv @@ q AND {where} ORDER BY ts_rank_cd(c.tsv, q) DESC, c.chunk_id LIMIT %s"
    ).format(where=where)
    rows = conn.execute(statement, [text, model, *params, limit]).fetchall()
    return [row[0] for row in rows]


def search(
    conn: psycopg.Connection, model: str, text: str, query_vector: np.ndarray, filters: Filters, limit: int
) -> list[Hit]:
    index = model_index(conn, model)
    if index is None:
        raise SearchError(f"nothing is embedded with {model!r} yet; materialise text_embeddings first")
    if query_vector.shape != (index.dimensions,):
        raise SearchError(f"query vector has shape {query_vector.shape}, {model} stores {index.dimensions}")
    where, params = _filter_sql(filters, _speaker_id(conn, filters.speaker))
    candidates = limit * CANDIDATES_PER_HIT
    with conn.transaction():
        by_vector = vector_ranking(conn, index, query_vector, where, params, candidates)
    by_keyword = keyword_ranking(conn, model, text, where, params, candidates)
    fused = reciprocal_rank_fusion([by_vector, by_keyword])[:limit]
    if not fused:
        return []
    rows = conn.execute(
        """
        SELECT c.chunk_id, c.video_id, cv.channel_key, v.title, v.url, c.start_s, c.end_s, c.text, c.speakers,
               (SELECT string_agg(DISTINCT 'speaker ' || ve.speaker_id, ', ') FROM voice_embeddings ve
                 WHERE ve.video_id = c.video_id AND ve.speaker = ANY(c.speakers))
        FROM chunks c JOIN videos v USING (video_id)
        JOIN LATERAL (SELECT channel_key FROM channel_videos WHERE video_id = c.video_id ORDER BY channel_key LIMIT 1) cv ON true
        WHERE c.chunk_id = ANY(%s)
        """,
        ([chunk_id for chunk_id, _ in fused],),
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    hits = []
    for chunk_id, score in fused:
        _, video_id, channel, title, url, start, end, text_, local, global_ = by_id[chunk_id]
        speaker = global_ or (", ".join(local) if local else None)
        hits.append(Hit(video_id, channel, title, speaker, start, end, text_, link_at(video_id, url, start), round(score, 6)))
    return hits
