"""Hybrid search over transcript chunks: pgvector similarity and Postgres full-text match, fused by
reciprocal rank. Filters (channel, speaker, date) stay inside both queries. A filter that keeps few
chunks is ranked exactly over its rows (the HNSW graph would be walked far to find them); otherwise the
HNSW scan is iterative, so it still returns K hits. Each hit then lands on its moment: the sentence or
segment of the chunk that matches the query best (`ytingest.core.moments.locate`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import psycopg
from psycopg import sql

from ytingest.core.moments import (
    Similarity,
    link_at,
    locate,
    marks_from_json,
    terms,
    units,
)
from ytingest.store.speakers import (
    SpeakerError,
    Voice,
    check_channel,
    resolve_speaker,
    voices,
)
from ytingest.store.vectors import ModelIndex, model_index

__all__ = ["Filters", "Hit", "SearchError", "link_at", "reciprocal_rank_fusion", "search"]

RRF_K = 60  # the usual reciprocal-rank constant: rank 1 scores 1/61, so neither list dominates
CANDIDATES_PER_HIT = 4
MAX_QUERY_CHARS = 1000
SNIPPET_FALLBACK_CHARS = 200  # a chunk written before word marks existed shows its start
# Below this many matching chunks the filter's rows are ranked exactly. Measured at 100k 384-dim chunks
# on 2 CPU cores: exact costs ~0.65 us a row (p95 9 ms at 10k rows, plus ~1.3 ms to count them), while the
# iterative HNSW scan costs more the rarer the filter (p95 21 ms at 5k rows, 9 ms at 10k): they cross near
# 10k. A bigger archive only makes 10k rows rarer, so HNSW slower there; the cap keeps exact's worst case
# near 10 ms and its materialised distances (~0.5 MB) inside work_mem.
EXACT_BELOW_ROWS = 10_000
# Full text ranks at most this many matching chunks. A query of common words matches thousands, and
# ranking each costs reading its row. bench/search.py at 100k chunks, quiet machine: a cap of 1,000 gave
# hybrid p95 14.8 ms, 400 gives 7.4 ms, both at recall@10 >= 0.99 against the uncapped ranking.
KEYWORD_RANK_CAP = 400


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
    speaker: str | None  # who speaks at `start`: a name, else "speaker N", else the local label
    start: float  # the moment: where the best-matching sentence or segment of the chunk is spoken
    end: float
    text: str  # the whole chunk
    url: str  # opens the video at `start`
    score: float
    snippet: str = ""  # the matching sentence(s)
    highlights: list[tuple[int, int]] = field(default_factory=list)  # matched words' spans in `snippet`
    speakers: list[dict] = field(default_factory=list)  # every speaker of the chunk: label, id, name
    chunk_start: float = 0.0
    chunk_end: float = 0.0
    chunk_id: int = 0
    speaker_id: int | None = None  # the global speaker of `speaker`, where the registry knows the voice

    def as_dict(self) -> dict:
        return asdict(self)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Ids ordered by the sum of 1/(k + rank) over the rankings they appear in (rank from 1)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


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
    conn: psycopg.Connection,
    model: str,
    text: str,
    where: sql.Composable,
    params: list,
    limit: int,
    cap: int | None = KEYWORD_RANK_CAP,
) -> list[int]:
    """Chunks that hold every word of the query, best ts_rank_cd first. Only the first `cap` matches the
    GIN index yields are ranked (None: all of them)."""
    capped = sql.SQL("") if cap is None else sql.SQL(" LIMIT {}").format(sql.Literal(cap))
    statement = sql.SQL(
        "WITH q AS (SELECT websearch_to_tsquery('english', %s) AS q),"
        " matched AS MATERIALIZED (SELECT c.chunk_id, c.tsv FROM chunks c, q WHERE c.tsv @@ q.q AND {where}{capped})"
        " SELECT chunk_id FROM matched, q ORDER BY ts_rank_cd(matched.tsv, q.q) DESC, chunk_id LIMIT %s"
    ).format(where=where, capped=capped)
    rows = conn.execute(statement, [text, model, *params, limit]).fetchall()
    return [row[0] for row in rows]


def _validated(conn: psycopg.Connection, text: str, filters: Filters) -> int | None:
    """The speaker filter's global id; refuses an empty query, an unknown channel or speaker, a future date."""
    if not text.strip():
        raise SearchError("the query is empty: say what to look for")
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError(f"the query has {len(text)} characters; at most {MAX_QUERY_CHARS}")
    if filters.since is not None and filters.since > dt.date.today():
        raise SearchError(f"--since {filters.since.isoformat()} is after today: no video is published yet")
    try:
        if filters.channel is not None:
            check_channel(conn, filters.channel)
        return None if filters.speaker is None else resolve_speaker(conn, filters.speaker)
    except SpeakerError as exc:
        raise SearchError(str(exc)) from exc


def search(
    conn: psycopg.Connection,
    model: str,
    text: str,
    query_vector: np.ndarray,
    filters: Filters,
    limit: int,
    similarity: Similarity | None = None,
) -> list[Hit]:
    """The top `limit` chunks for the query, each placed on its moment. `similarity` scores sentences
    against the query (for paraphrases); without it a moment is placed by the query's words alone."""
    speaker_id = _validated(conn, text, filters)
    index = model_index(conn, model)
    if index is None:
        raise SearchError(f"nothing is embedded with {model!r} yet; materialise text_embeddings first")
    if query_vector.shape != (index.dimensions,):
        raise SearchError(f"query vector has shape {query_vector.shape}, {model} stores {index.dimensions}")
    where, params = _filter_sql(filters, speaker_id)
    candidates = limit * CANDIDATES_PER_HIT
    with conn.transaction():
        by_vector = vector_ranking(conn, index, query_vector, where, params, candidates)
    by_keyword = keyword_ranking(conn, model, text, where, params, candidates)
    fused = reciprocal_rank_fusion([by_vector, by_keyword])[:limit]
    if not fused:
        return []
    rows = conn.execute(
        """
        SELECT c.chunk_id, c.video_id, cv.channel_key, v.title, v.url, c.start_s, c.end_s, c.text, c.speakers, c.marks
        FROM chunks c JOIN videos v USING (video_id)
        JOIN LATERAL (SELECT channel_key FROM channel_videos WHERE video_id = c.video_id ORDER BY channel_key LIMIT 1) cv ON true
        WHERE c.chunk_id = ANY(%s)
        """,
        ([chunk_id for chunk_id, _ in fused],),
    ).fetchall()
    by_id = {row[0]: row for row in rows}
    known = voices(conn, {row[1] for row in rows})
    scored = _batched(similarity, [(row[7], marks_from_json(row[9] or [])) for row in rows])
    return [_hit(by_id[chunk_id], score, text, known, scored) for chunk_id, score in fused]


def _batched(similarity: Similarity | None, passages: Sequence[tuple[str, Sequence]]) -> Similarity | None:
    """One call of `similarity` over every unit of every passage, looked up per passage afterwards."""
    if similarity is None:
        return None
    texts = list(dict.fromkeys(t[u.begin : u.end].strip() for t, marks in passages if marks for u in units(t, marks)))
    table = dict(zip(texts, similarity(texts), strict=True)) if texts else {}
    return lambda unit_texts: [table[t] for t in unit_texts]


def _hit(row: tuple, score: float, query: str, known: dict[tuple[str, str], Voice], similarity: Similarity | None) -> Hit:
    chunk_id, video_id, channel, title, url, start, end, text, labels, marks = row
    voice = {label: known.get((video_id, label), Voice(label, None, None)) for label in labels}
    moment = locate(query, text, marks_from_json(marks or []), similarity)
    if moment is None:
        snippet = text[:SNIPPET_FALLBACK_CHARS]
        wanted = {stem for stem, _, _ in terms(query)}
        at, until, local = start, end, labels[0] if labels else None
        highlights = [(b, e) for stem, b, e in terms(snippet) if stem in wanted]
    else:
        snippet, highlights = moment.snippet, list(moment.highlights)
        at, until, local = moment.start, moment.end, moment.speaker
    at_moment = voice.get(local, Voice(local, None, None)) if local is not None else None
    speaker = at_moment.display if at_moment is not None else None
    return Hit(
        video_id, channel, title, speaker, at, until, text, link_at(video_id, url, at), round(score, 6),
        snippet=snippet, highlights=highlights,
        speakers=[{"label": v.label, "id": v.speaker_id, "name": v.name} for v in voice.values()],
        chunk_start=start, chunk_end=end, chunk_id=chunk_id,
        speaker_id=at_moment.speaker_id if at_moment is not None else None,
    )  # fmt: skip
