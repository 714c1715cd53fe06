"""The project's search at scale: the HNSW query path (`vector_ranking`, as `search` runs it) against
exact search (the same SQL with index scans off, sequential scan + sort) for latency, and against exact
numpy cosine for recall@10; with no filter and with a one-channel filter (2.5% of rows); plus the
hybrid `search` (vector + full text, fused) latency.

MiniLM cannot encode 100k chunks on a small CPU in minutes, so the data is built from real vectors:
a few thousand generated sentences are encoded with the real all-MiniLM-L6-v2, and each row is a
normalised mix of two of them plus Gaussian noise (clusters around real sentence vectors, with their
text). Queries are real encodings of held-out sentences that are not among the mixed ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from bench.archive import add_channels, add_videos, word_marks
from bench.corpus import sentences
from bench.environment import reset_archive
from bench.report import Report, Row

if TYPE_CHECKING:
    from ytingest.store.search import Hit
    from ytingest.store.vectors import ModelIndex

T = TypeVar("T")

CHANNELS = 40  # one channel holds 2.5% of the rows: the "rare filter" case
ROWS_PER_VIDEO = 100
K = 10
NOISE = 0.25  # norm of the Gaussian noise added to each unit mix, before renormalising


def sizes(quick: bool) -> tuple[int, int, int]:
    """(rows, base sentences, queries)."""
    return (5_000, 400, 60) if quick else (100_000, 3_000, 300)


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.settings import get_settings

    reset_archive(url)
    total, bases, queries = sizes(quick)
    model = str(get_settings().embedding_model)
    base_texts, query_texts = _texts(bases, queries)
    base_vectors, query_vectors = _encode(base_texts), _encode(query_texts)
    vectors, texts, channel_of_row = _dataset(base_vectors, base_texts, total)
    started = time.perf_counter()
    chunk_ids = _load(url, model, vectors, texts, channel_of_row)
    load_seconds = time.perf_counter() - started
    data = Workload(model, vectors, chunk_ids, query_vectors, query_texts, described=(
        f"{total:,} chunks, 384 dims ({bases} real MiniLM sentence vectors mixed in pairs + noise), "
        f"{queries} held-out real queries, K={K}"
    ))  # fmt: skip
    rare_rows = np.flatnonzero(channel_of_row == 0)
    cases = [
        Case("no filter", None, np.arange(total)),
        Case(f"channel filter ({len(rare_rows) / total:.1%} of rows)", "benchsearch00", rare_rows),
    ]
    report.details["search"] = {"rows": total, "load_seconds": round(load_seconds, 1), "cases": {}}
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("ANALYZE chunks")
        for case in cases:
            _measure(report, conn, data, case)
    report.add(Row("search", "load through replace_chunks", total / load_seconds, "rows/s",
                   definition="COPY per video of 100 rows into `chunks` with its partial HNSW index live, as the asset writes"))  # fmt: skip


@dataclass(frozen=True)
class Workload:
    model: str
    vectors: np.ndarray  # the stored rows, in load order
    chunk_ids: np.ndarray  # chunk_id of each stored row
    queries: np.ndarray
    query_texts: list[str]
    described: str


@dataclass(frozen=True)
class Case:
    label: str
    channel: str | None
    rows: np.ndarray  # positions in Workload.vectors that the filter keeps


def _texts(bases: int, queries: int) -> tuple[list[str], list[str]]:
    pool = list(dict.fromkeys(sentences(bases * 4, seed=77)))
    base = pool[:bases]
    held_out = [s for s in dict.fromkeys(sentences(queries * 8, seed=78)) if s not in set(base)]
    return base, held_out[:queries]


def _encode(texts: list[str]) -> np.ndarray:
    from resources.models import TextEncoderResource

    with TextEncoderResource().session() as session:
        return session.encode(texts)


def _dataset(base: np.ndarray, base_texts: list[str], total: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(11)
    first = rng.integers(0, len(base), total)
    second = rng.integers(0, len(base), total)
    weight = rng.uniform(0.55, 1.0, size=(total, 1)).astype(np.float32)
    mixed = weight * base[first] + (1 - weight) * base[second]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    mixed += rng.normal(scale=NOISE / np.sqrt(base.shape[1]), size=mixed.shape).astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    channel_of_row = (np.arange(total) // ROWS_PER_VIDEO) % CHANNELS
    return mixed.astype(np.float32), [base_texts[i] for i in first], channel_of_row


def _load(url: str, model: str, vectors: np.ndarray, texts: list[str], channel_of_row: np.ndarray) -> np.ndarray:
    """Rows through the project's write path; returns chunk_id per row."""
    from ytingest.store.database import connection
    from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

    videos = len(vectors) // ROWS_PER_VIDEO
    video_ids = [f"search{n:06d}" for n in range(videos)]
    with psycopg.connect(url) as conn:
        add_channels(conn, [f"benchsearch{c:02d}" for c in range(CHANNELS)])
        add_videos(conn, {v: f"benchsearch{channel_of_row[n * ROWS_PER_VIDEO]:02d}" for n, v in enumerate(video_ids)})
        ensure_model_index(conn, model, vectors.shape[1])
    for n, video_id in enumerate(video_ids):
        part = slice(n * ROWS_PER_VIDEO, (n + 1) * ROWS_PER_VIDEO)
        rows = [ChunkRow(i, i * 10.0, i * 10.0 + 10, [], 30, t, word_marks(t, i * 10.0)) for i, t in enumerate(texts[part])]
        with connection(url) as conn:
            replace_chunks(conn, video_id, model, rows, vectors[part])
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT video_id, idx, chunk_id FROM chunks WHERE model = %s", (model,)).fetchall()
    position = {v: n for n, v in enumerate(video_ids)}
    chunk_ids = np.empty(len(vectors), dtype=np.int64)
    for video_id, idx, chunk_id in found:
        chunk_ids[position[video_id] * ROWS_PER_VIDEO + idx] = chunk_id
    return chunk_ids


def _measure(report: Report, conn: psycopg.Connection, data: Workload, case: Case) -> None:
    from ytingest.store.search import (
        CANDIDATES_PER_HIT,
        Filters,
        _filter_sql,
        keyword_ranking,
        reciprocal_rank_fusion,
        search,
        vector_ranking,
    )
    from ytingest.store.vectors import model_index

    model, queries, label = data.model, data.queries, case.label
    index = model_index(conn, model)
    filters = Filters(channel=case.channel)
    # The project's own filter SQL, so the measured query is exactly the one `search` sends.
    where, params = _filter_sql(filters, None)

    def ann(n: int) -> list[int]:
        with conn.transaction():
            return vector_ranking(conn, index, queries[n], where, params, K * CANDIDATES_PER_HIT)[:K]

    def exact(n: int) -> list[int]:
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            conn.execute("SET LOCAL enable_bitmapscan = off")
            return vector_ranking(conn, index, queries[n], where, params, K)

    def hybrid(n: int) -> list[Hit]:
        return search(conn, model, data.query_texts[n], queries[n], filters, K)

    def exact_hybrid(n: int) -> list[int]:
        """What `search` ranks with exact vectors and every full-text match ranked: its recall's truth."""
        by_vector = exact_candidates(n)
        by_keyword = keyword_ranking(conn, model, data.query_texts[n], where, params, K * CANDIDATES_PER_HIT, cap=None)
        return [chunk_id for chunk_id, _ in reciprocal_rank_fusion([by_vector, by_keyword])[:K]]

    def exact_candidates(n: int) -> list[int]:
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            conn.execute("SET LOCAL enable_bitmapscan = off")
            return vector_ranking(conn, index, queries[n], where, params, K * CANDIDATES_PER_HIT)

    plan = _plan(conn, index, where, params, queries[0], K * CANDIDATES_PER_HIT)
    uses_index = index.index_name in plan
    plan = re.sub(r"'\[[^\]]*\]'", "'[query vector]'", plan)
    truth = _truth(data.vectors[case.rows], data.chunk_ids[case.rows], queries)
    ann_ms, found = _latencies(ann, len(queries))
    exact_ms, exact_found = _latencies(exact, len(queries))
    hybrid_ms, hybrid_found = _latencies(hybrid, len(queries))
    hybrid_truth = [exact_hybrid(n) for n in range(len(queries))]
    hybrid_recall = float(np.mean([len({h.chunk_id for h in f} & set(t)) / K for f, t in zip(hybrid_found, hybrid_truth)]))
    recall = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))
    exact_recall = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(exact_found, truth)]))

    def p(values: list[float], q: int) -> float:
        return float(np.percentile(values, q))

    path = "vector search" if uses_index else "vector search (exact path)"
    report.add(
        Row("search", f"{path} p50, {label}", p(ann_ms, 50), "ms", p(exact_ms, 50), definition=data.described +
            f"; project: `vector_ranking` as `search` calls it ({K * CANDIDATES_PER_HIT} candidates; "
            f"{'HNSW iterative scan' if uses_index else 'exact over the filtered rows, no HNSW'}), "
            "baseline: the same SQL with index scans off (exact)"),
        Row("search", f"{path} p95, {label}", p(ann_ms, 95), "ms", p(exact_ms, 95), 15, "<=", target_on="value"),
        Row("search", f"{path} recall@{K}, {label}", recall, "", exact_recall, 0.95, ">=", target_on="value",
            definition="top-10 overlap with exact numpy cosine; baseline: the exact SQL's own recall"),
        Row("search", f"hybrid search p95, {label}", p(hybrid_ms, 95), "ms", p(ann_ms, 95), 15, "<=", target_on="value",
            definition=f"`search()` end to end (vector + full text + RRF + hit rows placed on their moment); baseline: its vector part; p50 {p(hybrid_ms, 50):.1f} ms"),
        Row("search", f"hybrid search recall@{K}, {label}", hybrid_recall, "", None, 0.95, ">=", target_on="value",
            definition="top-10 overlap with the same fusion over exact vector ranking and every full-text match ranked"),
    )  # fmt: skip
    report.details["search"]["cases"][label] = {
        "rows": len(case.rows), "ann_ms": _summary(ann_ms), "exact_ms": _summary(exact_ms),
        "hybrid_ms": _summary(hybrid_ms), "hybrid_recall_at_10": hybrid_recall, "plan_uses_hnsw": uses_index, "plan": plan, "recall_at_10": recall, "exact_sql_recall_at_10": exact_recall,
    }  # fmt: skip


def _plan(conn: psycopg.Connection, index: ModelIndex, where: sql.Composable, params: list, query: np.ndarray, limit: int) -> str:
    """The plan of the statement `vector_ranking` picks (exact over a selective filter's rows, else HNSW)."""
    from ytingest.store.search import vector_statement

    with conn.transaction():
        statement, args = vector_statement(conn, index, query, where, params, limit)
        return "\n".join(row[0] for row in conn.execute(sql.SQL("EXPLAIN ") + statement, args))


def _truth(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    scores = queries @ vectors.T
    top = np.argsort(-scores, axis=1)[:, :K]
    return [[int(ids[j]) for j in row] for row in top]


def _latencies(query: Callable[[int], list[T]], count: int) -> tuple[list[float], list[list[T]]]:
    for n in range(5):
        query(n)  # warm caches: the measured queries see the steady state a running server has
    times, results = [], []
    for n in range(count):
        started = time.perf_counter()
        results.append(query(n))
        times.append((time.perf_counter() - started) * 1000)
    return times, results


def _summary(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}
