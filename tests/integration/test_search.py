"""`ytingest search`: hybrid search finds a spoken phrase at its time, filters work, a filter that keeps
under 1% of the chunks returns its true top K (ranked exactly, off the HNSW index), and a common filter
still walks the index."""

import datetime as dt
import json

import numpy as np
import psycopg
import pytest
from psycopg import sql

from ingest_assets.partitions import partition_key
from tests.support.cli import ytingest
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import (
    GUEST,
    HOST,
    Captions,
    Episode,
    generate_channel,
)
from ytingest.store.database import connection
from ytingest.store.search import (
    EXACT_BELOW_ROWS,
    Filters,
    _filter_sql,
    link_at,
    reciprocal_rank_fusion,
    search,
    vector_ranking,
    vector_statement,
)
from ytingest.store.vectors import (
    ChunkRow,
    ensure_model_index,
    model_index,
    replace_chunks,
)

AT = dt.datetime(2026, 11, 7, 15, tzinfo=dt.UTC)
TOPICS = {
    "rivers00001": [
        (HOST, "Welcome back. Today we talk about rivers in the far north."),
        (GUEST, "Every spring the ice on the frozen river breaks up within a single day."),
        (HOST, "That must sound like distant thunder."),
    ],
    "bread000002": [
        (HOST, "In the kitchen today we bake sourdough bread."),
        (GUEST, "The yeast eats sugar and the dough rises in a warm place."),
    ],
    "planets0003": [
        (GUEST, "Saturn's rings are barely visible through binoculars."),
        (HOST, "A small telescope shows them clearly."),
    ],
}


@pytest.fixture(scope="module")
def channels(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    main = generate_channel(
        root / "main",
        [Episode(video_id=v, title=f"Episode {v}", published=AT, utterances=u, captions=Captions.MANUAL) for v, u in TOPICS.items()],
    )
    other = generate_channel(
        root / "other",
        [Episode(video_id="otherRiver1", title="Another river show", published=AT, captions=Captions.MANUAL,
                 utterances=[(HOST, "The ice on the frozen river breaks up in spring, they say.")])],
        channel_id="UCyt1ngestOtherChannel00",
    )  # fmt: skip
    return main, other


def _ingest(instance, key):
    import dagster as dg

    from definitions import defs

    result = dg.materialize(list(defs().assets), partition_key=str(partition_key(key, AT.date())), instance=instance, resources=defs().resources)
    assert result.success


def test_search_finds_the_phrase_at_its_time_and_filters(archive, instance, channels, smoke_model_settings):
    from ytingest.app.channels import register_channel

    main, other = channels
    with LoopbackChannel(main) as main_site, LoopbackChannel(other) as other_site:
        register_channel(main_site.rss_url, key="main")
        register_channel(other_site.rss_url, key="other")
        _ingest(instance, "main")
        _ingest(instance, "other")

    result = ytingest("search", "when does the river ice break up", "--json", "--limit", "3", env=smoke_model_settings)
    assert result.returncode == 0, result.stderr[-2000:]
    hits = json.loads(result.stdout)
    assert {"video_id", "start", "end", "speaker", "text", "url", "score"} <= set(hits[0])
    with psycopg.connect(archive) as conn:
        ids = dict(conn.execute("SELECT video_id, source_id FROM videos").fetchall())
    top = hits[0]
    assert ids[top["video_id"]] in ("rivers00001", "otherRiver1")
    spoken = next(u for u in main.episode("rivers00001").utterances if "breaks up" in u.text) if ids[top["video_id"]] == "rivers00001" else other.episode("otherRiver1").utterances[0]
    assert top["start"] <= spoken.start + 5 and top["end"] >= spoken.start
    assert top["url"].endswith(f"#t={int(top['start'])}")

    only_main = json.loads(ytingest("search", "frozen river ice", "--channel", "main", "--json", env=smoke_model_settings).stdout)
    assert only_main and {ids[h["video_id"]] for h in only_main} <= set(TOPICS)
    assert ids[only_main[0]["video_id"]] == "rivers00001"

    with psycopg.connect(archive) as conn:
        speaker_id, video_id = conn.execute("SELECT speaker_id, video_id FROM voice_embeddings ORDER BY speaker_id LIMIT 1").fetchone()
    by_speaker = json.loads(ytingest("search", "river", "--speaker", str(speaker_id), "--json", env=smoke_model_settings).stdout)
    assert by_speaker and all(any(s["id"] == speaker_id for s in h["speakers"]) for h in by_speaker)

    unknown = ytingest("search", "river", "--speaker", "999999", env=smoke_model_settings)
    assert unknown.returncode == 2 and "no speaker" in unknown.stderr
    human = ytingest("search", "sourdough bread", "--limit", "1", env=smoke_model_settings)
    assert human.returncode == 0 and "Episode bread000002" in human.stdout


def test_rare_filter_ranks_its_rows_exactly_and_common_filter_walks_the_index(archive):
    rng = np.random.default_rng(7)
    dims, per_video = 32, 200
    vectors_of: dict[str, np.ndarray] = {}
    with connection(archive) as conn:
        conn.execute("INSERT INTO channels (key, url, kind) VALUES ('big', 'http://big/feed.rss', 'feed'), ('rare', 'http://rare/feed.rss', 'feed')")
        ensure_model_index(conn, "synthetic-32", dims)
        for n in range(101):
            channel = "rare" if n == 0 else "big"  # 200 of 20,200 chunks: under 1%
            video_id = f"syn{n:05d}"
            conn.execute("INSERT INTO videos (video_id, source_id, url, title, published_date) VALUES (%s, %s, %s, %s, '2026-01-01')", (video_id, video_id, f"http://x/{video_id}", video_id))
            conn.execute("INSERT INTO channel_videos VALUES (%s, %s)", (channel, video_id))
            rows = [ChunkRow(i, i * 5.0, i * 5.0 + 5, [], 10, f"chunk {i} of {video_id}") for i in range(per_video)]
            vectors = rng.normal(size=(per_video, dims)).astype(np.float32)
            vectors_of[video_id] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            replace_chunks(conn, video_id, "synthetic-32", rows, vectors_of[video_id])
        # Statistics for every table of the filter's join, as autovacuum would have them: without them the
        # planner guesses a handful of matching rows and sorts instead of using the index.
        conn.execute("ANALYZE chunks, channel_videos, videos")
    query = rng.normal(size=dims).astype(np.float32)
    assert per_video < EXACT_BELOW_ROWS <= 100 * per_video  # "rare" is under the threshold, "big" over it
    with connection(archive) as conn:
        hits = search(conn, "synthetic-32", "zzzz", query, Filters(channel="rare"), 10)
        assert len(hits) == 10 and {h.video_id for h in hits} == {"syn00000"}
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

        index = model_index(conn, "synthetic-32")
        chunk_of_idx = dict(conn.execute("SELECT idx, chunk_id FROM chunks WHERE video_id = 'syn00000'").fetchall())
        true_top = [chunk_of_idx[int(i)] for i in np.argsort(-(vectors_of["syn00000"] @ query))[:10]]
        plans = {}
        for channel in ("rare", "big"):
            where, params = _filter_sql(Filters(channel=channel), None)
            with conn.transaction():
                found = vector_ranking(conn, index, query, where, params, 10)
                statement, args = vector_statement(conn, index, query, where, params, 40)
                plans[channel] = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + statement, args))
            if channel == "rare":
                assert found == true_top
            assert len(found) == 10
        assert "chunks_hnsw_" not in plans["rare"] and "CTE Scan on filtered" in plans["rare"], plans["rare"]
        # Over the threshold the plain ORDER BY ... LIMIT goes to the planner, which walks the HNSW index
        # when its statistics say the filter keeps most rows (the bench records that plan at 100k chunks).
        assert "CTE Scan on filtered" not in plans["big"], plans["big"]


def test_fusion_and_links():
    assert reciprocal_rank_fusion([[1, 2, 3], [3, 1]]) [0][0] == 1
    assert [i for i, _ in reciprocal_rank_fusion([[5], [6]])] == [5, 6]  # ties broken by id
    assert link_at("dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", 83.9) == "https://youtu.be/dQw4w9WgXcQ?t=83"
    assert link_at("ep-1-abc", "https://pod.example/ep1#old", 12.2) == "https://pod.example/ep1#t=12"
