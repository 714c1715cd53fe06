"""The `text_embeddings` asset's chunks per second, as a Dagster run of that one step, against bare
`SentenceTransformer.encode` of the same chunk texts at the same batch size."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import numpy as np

from bench.archive import DAY, add_videos
from bench.corpus import sentences
from bench.environment import reset_archive
from bench.report import Report, Row

CHANNEL = "benchtext"
SECONDS_PER_SENTENCE = 4.0


def sizes(quick: bool) -> tuple[int, int]:
    """(videos, transcript sentences per video): full about 400 chunks of up to 200 tokens."""
    return (6, 60) if quick else (40, 120)


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.app.runs import step_intervals

    reset_archive(url)
    videos, per_video = sizes(quick)
    _store_transcripts(url, videos, per_video)
    run_id = _materialise_text_embeddings()
    with dg.DagsterInstance.get() as instance:
        (start, end), = step_intervals(instance, run_id).values()
        metadata = _metadata(instance, run_id)
    by_video = _chunk_texts(url)
    texts = [text for video in by_video for text in video]
    bare_seconds, per_video_seconds, batch_size = _bare_encode(by_video)
    count = len(texts)
    step, encode = end - start, float(metadata["text_encoder/inference_seconds"])
    load = float(metadata["text_encoder/load_seconds"])
    definition = (
        f"{count} chunks of {videos} stored transcripts, batch size {batch_size}; baseline: one "
        "`SentenceTransformer.encode` call over the same texts (model loaded beforehand, not timed)"
    )
    report.add(
        Row("embeddings", "asset chunks/s, as a user sees it", count / step, "chunks/s", count / bare_seconds, 0.9, ">=",
            definition + "; asset: chunks written / STEP_START -> STEP_SUCCESS (model load, chunking, encode, COPY, checks)"),
        Row("embeddings", "asset chunks/s, encode part", count / encode, "chunks/s", count / bare_seconds, 0.9, ">=",
            "chunks / `text_encoder/inference_seconds` of the step (encode calls only, one per group of videos)"),
        Row("embeddings", "bare encode, one call per video", count / per_video_seconds, "chunks/s", count / bare_seconds,
            definition="what the asset's per-video batching alone costs: the same bare model, one `encode` per video's chunks"),
        Row("embeddings", "encode share of the step", encode / step, "of step",
            definition=f"encode {encode:.1f} s, model load {load:.1f} s, step {step:.1f} s"),
    )  # fmt: skip
    report.details["embeddings"] = {"chunks": count, "step_seconds": round(step, 2), "encode_seconds": encode,
                                    "load_seconds": load, "bare_encode_seconds": round(bare_seconds, 2),
                                    "bare_per_video_encode_seconds": round(per_video_seconds, 2)}  # fmt: skip


def _store_transcripts(url: str, videos: int, per_video: int) -> None:
    """Caption transcripts with both upstream steps marked done, so the asset has real work to plan."""
    import psycopg

    from ytingest.app.channels import register_channel
    from ytingest.core.captions import Segment
    from ytingest.store import catalog
    from ytingest.store import transcripts as transcript_store

    register_channel(f"http://127.0.0.1:9/{CHANNEL}.rss", key=CHANNEL)
    ids = [f"text{n:05d}" for n in range(videos)]
    with psycopg.connect(url) as conn:
        add_videos(conn, {v: CHANNEL for v in ids})
        for n, video_id in enumerate(ids):
            texts = sentences(per_video, seed=5000 + n)
            segments = [Segment(i * SECONDS_PER_SENTENCE, (i + 1) * SECONDS_PER_SENTENCE, t) for i, t in enumerate(texts)]
            seconds = per_video * SECONDS_PER_SENTENCE
            transcript_store.replace_transcript(
                conn, video_id, segments, source="captions", caption_kind="manual", language="en", model=None,
                audio_seconds=seconds, speech_seconds=seconds,
            )  # fmt: skip
            for upstream in ("transcripts", "diarization"):
                catalog.record_step(conn, video_id, upstream, "succeeded", None, None)


def _materialise_text_embeddings() -> str:
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from ingest_assets.partitions import partition_key
    from ytingest.app.runs import ingest_job_def

    key = str(partition_key(CHANNEL, DAY))
    with dg.DagsterInstance.get() as instance, dg.execute_job(
        dg.reconstructable(ingest_job_def),
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: key, ASSET_PARTITION_RANGE_END_TAG: key},
        asset_selection=[dg.AssetKey("text_embeddings")],
    ) as result:
        if not result.success:
            raise RuntimeError(f"text_embeddings run {result.run_id} failed")
        return result.run_id


def _metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    (record,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    metadata = record.dagster_event.event_specific_data.materialization.metadata
    return {key: value.value for key, value in metadata.items()}


def _chunk_texts(url: str) -> list[list[str]]:
    """Each video's chunk texts, in the order the asset encoded them."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT video_id, text FROM chunks ORDER BY video_id, idx").fetchall()
    by_video: dict[str, list[str]] = {}
    for video_id, text in rows:
        by_video.setdefault(video_id, []).append(text)
    return list(by_video.values())


def _bare_encode(by_video: list[list[str]]) -> tuple[float, float, int]:
    """Seconds for one `encode` over every chunk, seconds for one per video, and the batch size."""
    from sentence_transformers import SentenceTransformer

    from ytingest.settings import get_settings

    settings = get_settings()
    model = SentenceTransformer(str(settings.embedding_model), device="cpu", local_files_only=True)
    texts = [text for video in by_video for text in video]

    def encode(items: list[str]) -> np.ndarray:
        return model.encode(
            items, batch_size=settings.embedding_batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )  # fmt: skip

    encode(texts[:8])  # first-call set-up, as the asset's first video pays it
    started = time.perf_counter()
    vectors = encode(texts)
    at_once = time.perf_counter() - started
    started = time.perf_counter()
    for video in by_video:
        encode(video)
    per_video = time.perf_counter() - started
    assert np.isfinite(vectors).all() and len(vectors) == len(texts)
    return at_once, per_video, settings.embedding_batch_size
