"""One chunks table, several embedding models: a 384-dimension and a 64-dimension model used one after
the other stay queryable through their own partial HNSW indexes; and a writer SIGKILLed in the middle
of its COPY leaves nothing half-written behind."""

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.runs import materialize
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode
from ytingest.store.database import connection
from ytingest.store.vectors import model_index

ROOT = Path(__file__).resolve().parents[2]
AT = dt.datetime(2026, 11, 6, 15, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [quick_episode(f"vecCaps{n:04d}", published=AT, captions=Captions.MANUAL) for n in range(3)]
    return generate_channel(tmp_path_factory.mktemp("vectors"), episodes)


@pytest.fixture(scope="module")
def small_encoder(tmp_path_factory, smoke_models):
    """A second real sentence-transformers model of another size: MiniLM plus a random 384->64 projection."""
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(smoke_models.text_encoder))
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    dense = models.Dense(in_features=384, out_features=64)
    path = tmp_path_factory.mktemp("encoder64") / "tiny-encoder-64"
    SentenceTransformer(modules=[transformer, pooling, dense, models.Normalize()], device="cpu").save(str(path))
    return path


def _explain(conn, model: str, dims: int) -> str:
    index = model_index(conn, model)
    assert index is not None and index.dimensions == dims
    # A handful of rows: make the planner show that the model's index can serve the ordered scan.
    conn.execute("SET LOCAL enable_seqscan = off")
    conn.execute("SET LOCAL enable_sort = off")
    query = np.ones(dims, dtype=np.float32) / np.sqrt(dims)
    plan = conn.execute(
        f"EXPLAIN SELECT chunk_id FROM chunks WHERE model = %s"
        f" ORDER BY (embedding::vector({dims})) <=> %s::vector({dims}) LIMIT 5",
        (model, query),
    ).fetchall()
    return "\n".join(row[0] for row in plan), index.index_name


def test_two_models_of_different_sizes_each_use_their_own_index(
    archive, instance, channel, smoke_model_settings, small_encoder, monkeypatch
):
    from ytingest.app.channels import register_channel

    all_assets = {"videos", "audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings"}
    with LoopbackChannel(channel) as site:
        key, _ = register_channel(site.rss_url, key="vectors")
        assert materialize(instance, key, AT.date(), all_assets).success
    from resources.models.locate import find_model
    from ytingest.settings import get_settings

    big = find_model("text_encoder", get_settings())[0].name  # what MODELS_DIR's set embeds with
    monkeypatch.setenv("EMBEDDING_MODEL", str(small_encoder))
    assert materialize(instance, key, AT.date(), {"text_embeddings"}).success

    with connection(archive) as conn:
        counts = dict(conn.execute("SELECT model, count(*) FROM chunks GROUP BY model").fetchall())
        assert set(counts) == {big, str(small_encoder)} and counts[big] == counts[str(small_encoder)] > 0
        dims = dict(conn.execute("SELECT model, min(vector_dims(embedding)) FROM chunks GROUP BY model").fetchall())
        assert dims == {big: 384, str(small_encoder): 64}
        for model, size in ((big, 384), (str(small_encoder), 64)):
            plan, name = _explain(conn, model, size)
            assert name in plan, plan
            assert f"Index Scan using {name}" in plan


KILL_WRITER = """
import os, signal, sys
import numpy as np
from ytingest.store.database import connection
from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks
url, video_id = sys.argv[1], sys.argv[2]

class DieHalfWay(list):
    def __iter__(self):
        for n, row in enumerate(super().__iter__()):
            if n == 2500:  # half-way through the COPYs (BATCH_SIZE=500: five done), killed as the OOM killer would
                os.kill(os.getpid(), signal.SIGKILL)
            yield row

rows = DieHalfWay(ChunkRow(i, float(i), float(i) + 1, ["SPEAKER_00"], 10, f"chunk {i}") for i in range(5000))
vectors = np.random.default_rng(0).normal(size=(5000, 384)).astype(np.float32)
with connection(url) as conn:
    ensure_model_index(conn, "killed-model", 384)
    replace_chunks(conn, video_id, "killed-model", rows, vectors)
"""


def test_writer_killed_mid_copy_leaves_no_partial_rows(archive):
    from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

    with connection(archive) as conn:
        conn.execute("INSERT INTO videos (video_id, source_id, url, title) VALUES ('killme', 'k', 'http://x/k', 'k')")
        ensure_model_index(conn, "killed-model", 384)
        replace_chunks(conn, "killme", "killed-model", [ChunkRow(0, 0.0, 1.0, [], 3, "old")], np.ones((1, 384)))
    result = subprocess.run([sys.executable, "-c", KILL_WRITER, archive, "killme"], cwd=ROOT, env={**os.environ, "BATCH_SIZE": "500"}, timeout=120)
    assert result.returncode == -signal.SIGKILL
    with connection(archive) as conn:
        assert conn.execute("SELECT text FROM chunks WHERE video_id = 'killme'").fetchall() == [("old",)]
        rows = [ChunkRow(i, float(i), float(i) + 1, [], 2, f"new {i}") for i in range(3)]
        replace_chunks(conn, "killme", "killed-model", rows, np.ones((3, 384)))
    with connection(archive) as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM chunks WHERE video_id = 'killme' ORDER BY idx")]
        assert texts == ["new 0", "new 1", "new 2"]
        assert conn.execute("SELECT count(*) FROM chunks c LEFT JOIN videos v USING (video_id) WHERE v.video_id IS NULL").fetchone() == (0,)


def test_text_embeddings_pools_videos_into_full_batches_spying_sentence_transformer_encode(
    archive, instance, smoke_model_settings, monkeypatch
):
    """Three videos' chunks go through one SentenceTransformer.encode call in EMBEDDING_BATCH_SIZE batches,
    not one call (and one short batch) per video; a video without a transcript still fails alone."""
    from sentence_transformers import SentenceTransformer

    from ytingest.app.channels import register_channel
    from ytingest.core.captions import Segment
    from ytingest.store import catalog
    from ytingest.store import transcripts as transcript_store

    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "4")
    monkeypatch.setenv("CHUNK_TOKENS", "16")
    monkeypatch.setenv("CHUNK_OVERLAP_TOKENS", "0")
    key, _ = register_channel("http://127.0.0.1:9/pooled.rss", key="pooled")
    ids = ["pool0", "pool1", "pool2", "poolNoTranscript"]
    with connection(archive) as conn:  # pooled: pgvector's types registered, as the project's are
        for video_id in ids:
            conn.execute(
                "INSERT INTO videos (video_id, source_id, url, title, published_date, partition_date, date_exact)"
                " VALUES (%s, %s, %s, %s, %s, %s, true)",
                (video_id, video_id, f"http://127.0.0.1:9/watch/{video_id}", video_id, AT.date(), AT.date()),
            )
            conn.execute("INSERT INTO channel_videos (channel_key, video_id) VALUES (%s, %s)", (key, video_id))
            for upstream in ("transcripts", "diarization"):
                catalog.record_step(conn, video_id, upstream, "succeeded", None, None)
        for n, video_id in enumerate(ids[:3]):
            segments = [Segment(i * 4.0, i * 4.0 + 4, f"Video {n} says sentence number {i} about the harbour and its boats.") for i in range(5)]
            transcript_store.replace_transcript(
                conn, video_id, segments, source="captions", caption_kind="manual", language="en", model=None,
                audio_seconds=20.0, speech_seconds=20.0,
            )  # fmt: skip
    calls: list[tuple[int, int]] = []
    original = SentenceTransformer.encode

    def spy(self, sentences, *args, **kwargs):
        calls.append((len(sentences), kwargs["batch_size"]))
        return original(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", spy)
    assert materialize(instance, key, AT.date(), {"text_embeddings"}).success

    with connection(archive) as conn:  # pooled: pgvector's types registered, as the project's are
        per_video = dict(conn.execute("SELECT video_id, count(*) FROM chunks GROUP BY video_id").fetchall())
        failed = conn.execute("SELECT video_id, reason FROM video_steps WHERE asset = 'text_embeddings' AND status = 'failed'").fetchall()
    assert set(per_video) == set(ids[:3]) and all(count >= 3 for count in per_video.values())
    assert calls == [(sum(per_video.values()), 4)]
    assert failed == [("poolNoTranscript", "no transcript stored for it")]
