"""Asset `text_embeddings`: transcript chunks with their times and speakers, embedded for search."""

import dagster as dg
import numpy as np

from ingest_assets.chunking import Chunk, chunk_transcript
from ingest_assets.checks import TEXT_CHECKS, text_checks
from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import VideoFailed, plan, run_video
from resources import transcript_store
from resources.models import TextEncoderResource
from resources.postgres import PostgresResource
from resources.settings import get_settings
from resources.vector_store import ChunkRow, ensure_model_index, replace_chunks

ASSET = "text_embeddings"
SPECIAL_TOKENS = 2  # [CLS] and [SEP] (or the model's equivalents) take two of the model's positions


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
    with its start and end time and speakers, embedded in EMBEDDING_BATCH_SIZE batches and stored with the
    model's name; one table serves every model, each with its own partial HNSW index."""
    settings = get_settings()
    chunks_written = 0
    with text_encoder.session(context) as session:
        model_name = session.plan.name
        version = f"{model_name}|{settings.chunk_tokens}|{settings.chunk_overlap_tokens}"
        work = plan(context, postgres, ASSET, ("transcripts", "diarization"), version)
        for video in work.todo:

            def compute(video_id=video.video_id) -> tuple[list[Chunk], np.ndarray]:
                with postgres.connect() as conn:
                    transcript = transcript_store.load_transcript(conn, video_id)
                if transcript is None:
                    raise VideoFailed("no transcript stored for it")
                model = session.loaded()
                limit = (model.max_seq_length or settings.chunk_tokens + SPECIAL_TOKENS) - SPECIAL_TOKENS
                max_tokens = min(settings.chunk_tokens, limit)
                overlap = min(settings.chunk_overlap_tokens, max_tokens // 2)
                chunks = chunk_transcript(transcript.segments, model.tokenizer, max_tokens, overlap)
                vectors = session.encode([c.text for c in chunks])
                if len(vectors) and not np.isfinite(vectors).all():
                    raise VideoFailed("the text encoder returned NaN or infinite values")
                return chunks, vectors

            def write(conn, result, video_id=video.video_id) -> None:
                nonlocal chunks_written
                chunks, vectors = result
                ensure_model_index(conn, model_name, session.dimensions, halfvec=settings.halfvec_index)
                rows = [ChunkRow(c.index, c.start, c.end, c.speakers, c.token_count, c.text) for c in chunks]
                chunks_written += replace_chunks(conn, video_id, model_name, rows, vectors)

            run_video(context, postgres, work.report, video.video_id, version, compute, write)
    with postgres.connect() as conn:
        check_results = text_checks(conn, work.video_ids, model_name)
    return dg.MaterializeResult(
        check_results=check_results,
        metadata={**work.report.metadata(), "chunks_written": chunks_written, "embedding_model": model_name, **session.metadata()}
    )
