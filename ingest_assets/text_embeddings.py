"""Asset `text_embeddings`: transcript chunks with their times and speakers, embedded for search."""

from collections.abc import Iterable, Iterator
from functools import partial

import dagster as dg
import numpy as np
import psycopg

from ingest_assets.checks import TEXT_CHECKS, text_checks
from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import VideoFailed, breaks_step, plan, run_video
from resources.models import TextEncoderResource
from resources.models.text_encoder import TextEncoderSession
from resources.postgres import PostgresResource
from ytingest.core.chunking import Chunk, chunk_transcript
from ytingest.settings import get_settings
from ytingest.store import transcripts as transcript_store
from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

ASSET = "text_embeddings"
SPECIAL_TOKENS = 2  # [CLS] and [SEP] (or the model's equivalents) take two of the model's positions
# Chunks encoded per call. One video's chunks rarely fill EMBEDDING_BATCH_SIZE batches (a 10-minute
# video makes ~10 chunks), so videos are pooled; the cap bounds what a group holds at once: 2048 texts of
# <= CHUNK_TOKENS tokens plus their vectors (12.6 MB at 1536 dims), and leaves at most one partial
# batch per 2048 chunks.
ENCODE_GROUP_CHUNKS = 2048

Chunked = list[Chunk] | Exception  # a video's chunks, or why it could not be chunked
Embedded = tuple[list[Chunk], np.ndarray] | Exception  # its chunks and their vectors, or why it failed


@per_video_asset(
    deps=["transcripts", "diarization"],
    pool="gpu",
    check_specs=TEXT_CHECKS,
    group_name="ml",
    kinds={"pytorch", "pgvector"},
)
def text_embeddings(
    context: dg.AssetExecutionContext, postgres: PostgresResource, text_encoder: TextEncoderResource
) -> dg.MaterializeResult:
    """The transcript cut into chunks of CHUNK_TOKENS model tokens (CHUNK_OVERLAP_TOKENS shared), each
    with its start and end time and speakers, embedded in EMBEDDING_BATCH_SIZE batches over the chunks of
    several videos at once and stored with the model's name; one table serves every model, each with its
    own partial HNSW index."""
    settings = get_settings()
    with text_encoder.session(context) as session:
        model_name = session.plan.name
        version = f"{model_name}|{settings.chunk_tokens}|{settings.chunk_overlap_tokens}|marks"
        work = plan(context, postgres, ASSET, ("transcripts", "diarization"), version)

        def write(conn: psycopg.Connection, result: tuple[list[Chunk], np.ndarray], video_id: str) -> None:
            chunks, vectors = result
            if chunks:  # the index needs the model's size: nothing to store must not load the model
                ensure_model_index(conn, model_name, session.dimensions, halfvec=settings.halfvec_index)
            rows = [ChunkRow(c.index, c.start, c.end, c.speakers, c.token_count, c.text, c.marks) for c in chunks]
            replace_chunks(conn, video_id, model_name, rows, vectors)

        chunked = ((v.video_id, _chunked(postgres, session, v.video_id)) for v in work.todo)
        for group in _groups(chunked, ENCODE_GROUP_CHUNKS):
            for video_id, outcome in _embedded(session, group):
                compute = partial(_outcome, outcome)
                stored = run_video(context, postgres, work, video_id, compute, partial(write, video_id=video_id))
                if stored is not None:
                    work.report.tally(video_id, chunks_written=len(stored[0]))
    with postgres.connect() as conn:
        check_results = text_checks(conn, work.video_ids, model_name)
    work.report.publish(context)
    return dg.MaterializeResult(
        check_results=check_results, metadata={"embedding_model": model_name, **session.metadata()}
    )


def _chunked(postgres: PostgresResource, session: TextEncoderSession, video_id: str) -> Chunked:
    """The video's transcript in chunks of the model's tokens; a failure is returned, so that the video
    fails alone when its group is written."""
    settings = get_settings()
    try:
        with postgres.connect() as conn:
            transcript = transcript_store.load_transcript(conn, video_id)
        if transcript is None:
            raise VideoFailed("no transcript stored for it")
        if not transcript.segments:
            return []  # silence: nothing to embed, and no reason to load the model
        model = session.loaded()
        limit = (model.max_seq_length or settings.chunk_tokens + SPECIAL_TOKENS) - SPECIAL_TOKENS
        max_tokens = min(settings.chunk_tokens, limit)
        overlap = min(settings.chunk_overlap_tokens, max_tokens // 2)
        return chunk_transcript(transcript.segments, model.tokenizer, max_tokens, overlap)
    except Exception as exc:
        if breaks_step(exc):
            raise
        return exc


def _groups(chunked: Iterable[tuple[str, Chunked]], max_chunks: int) -> Iterator[list[tuple[str, Chunked]]]:
    """Consecutive videos, closed once their chunks reach `max_chunks`: a group holds fewer than
    `max_chunks` plus one video's chunks."""
    group: list[tuple[str, Chunked]] = []
    size = 0
    for video_id, chunks in chunked:
        group.append((video_id, chunks))
        size += 0 if isinstance(chunks, Exception) else len(chunks)
        if size >= max_chunks:
            yield group
            group, size = [], 0
    if group:
        yield group


def _embedded(session: TextEncoderSession, group: list[tuple[str, Chunked]]) -> list[tuple[str, Embedded]]:
    """One `encode` over the group's chunks, split back per video. When that encode fails, each video of
    the group is encoded on its own, so only the video that causes it fails; NaN or infinite vectors fail
    only the video they belong to."""
    texts = [c.text for _, chunks in group if not isinstance(chunks, Exception) for c in chunks]
    try:
        vectors = session.encode(texts) if texts else np.empty((0, 0), dtype=np.float32)
    except Exception as exc:
        if breaks_step(exc):
            raise
        if len(group) == 1:
            return [(group[0][0], group[0][1] if isinstance(group[0][1], Exception) else exc)]
        return [embedded for member in group for embedded in _embedded(session, [member])]
    embedded: list[tuple[str, Embedded]] = []
    start = 0
    for video_id, chunks in group:
        if isinstance(chunks, Exception):
            embedded.append((video_id, chunks))
            continue
        part = vectors[start : start + len(chunks)]
        start += len(chunks)
        finite = np.isfinite(part).all()
        embedded.append((video_id, (chunks, part) if finite else VideoFailed("the text encoder returned NaN or infinite values")))
    return embedded


def _outcome(outcome: Embedded) -> tuple[list[Chunk], np.ndarray]:
    """`run_video`'s compute: the group's result for this video, or its failure raised."""
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
