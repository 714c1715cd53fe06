"""The `outcomes` asset over a run that covers several partitions: each partition gets its own status and
metadata from the per-video ledger. The ledger is written directly (no media or models needed): the
asset under test only reads it."""

import datetime as dt

import dagster as dg
import psycopg
from dagster._core.storage.partition_status_cache import (
    get_and_update_asset_status_cache_value,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ingest_assets.outcomes import STEPS
from ingest_assets.partitions import CHANNELS, partition_key
from ytingest.store import catalog

CHANNEL = "outcomes"
# A video's day in each of four consecutive monthly partitions.
DONE, REMOVED, BROKEN, EMPTY = (dt.date(2026, month, 14) for month in range(3, 7))


def _video(conn, video_id: str, day: dt.date, failing: tuple[str, str, bool] | None) -> None:
    conn.execute(
        "INSERT INTO videos (video_id, source_id, url, title, published_at, published_date, partition_date)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (video_id, video_id, f"https://youtu.be/{video_id}", f"Title {video_id}", day, day, day),
    )
    conn.execute("INSERT INTO channel_videos VALUES (%s, %s)", (CHANNEL, video_id))
    for step in STEPS:
        if failing and failing[0] == step:
            catalog.record_step(conn, video_id, step, "failed", failing[1], None, permanent=failing[2])
            return
        catalog.record_step(conn, video_id, step, "succeeded", None, None)
        if step == "audio":  # its file is gone: a step that reads it fails the video, not the run
            conn.execute(
                "INSERT INTO audio (video_id, path, sample_rate, channels, duration_seconds, sha256, bytes, source_url)"
                " VALUES (%s, %s, 16000, 1, 60, '', 0, '')",
                (video_id, f"/nonexistent/{video_id}.wav"),
            )


def _range_tags() -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: str(partition_key(CHANNEL, DONE)),
        ASSET_PARTITION_RANGE_END_TAG: str(partition_key(CHANNEL, EMPTY)),
    }


def test_each_partition_reports_its_own_videos(archive, instance, smoke_model_settings):
    from definitions import defs

    with psycopg.connect(archive) as conn:
        conn.execute("INSERT INTO channels (key, url, kind) VALUES (%s, 'https://example.com/feed', 'feed')", (CHANNEL,))
        _video(conn, "doneVideo01", DONE, None)
        _video(conn, "removedVid1", REMOVED, ("audio", "HTTP 404: video unavailable", True))
        _video(conn, "otherDone01", REMOVED, None)
        _video(conn, "brokenVid01", BROKEN, ("transcripts", "CUDA error: device-side assert", False))
    instance.add_dynamic_partitions(CHANNELS.name, [CHANNEL])
    asset = defs().get_assets_def("outcomes")
    result = dg.materialize(
        [asset],
        instance=instance,
        resources=defs().resources,
        raise_on_error=False,
        tags=_range_tags(),
    )
    # The video that needs attention fails the step, naming it, and is told apart from the removed one.
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert "brokenVid01" in message and "removedVid1" not in message

    materialized = {
        e.materialization.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    key = lambda day: str(partition_key(CHANNEL, day))  # noqa: E731
    assert set(materialized) == {key(DONE), key(REMOVED), key(EMPTY)}
    # Each partition lists only its own videos, linked.
    assert "[Title doneVideo01](https://youtu.be/doneVideo01)" in materialized[key(DONE)]["outcomes"]
    assert "removedVid1" not in materialized[key(DONE)]["outcomes"]
    removed = materialized[key(REMOVED)]
    assert (removed["videos"], removed["done"], removed["unavailable"]) == (2, 1, 1)
    assert "| unavailable | audio failed: HTTP 404" in removed["outcomes"]
    assert materialized[key(EMPTY)]["videos"] == 0

    partitions = asset.partitions_def
    status = get_and_update_asset_status_cache_value(instance, asset.key, partitions)
    assert set(status.deserialize_failed_partition_subsets(partitions).get_partition_keys()) == {key(BROKEN)}
    assert set(status.deserialize_materialized_partition_subsets(partitions).get_partition_keys()) == {
        key(DONE), key(REMOVED), key(EMPTY)
    }

    # A per-step asset over the same range: Dagster gives each partition the step's materialization,
    # and each carries only its own videos' counts, reasons and links.
    step = dg.materialize(
        [defs().get_assets_def("transcripts")], instance=instance, resources=defs().resources, tags=_range_tags()
    )
    assert step.success
    meta = {
        e.materialization.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in step.get_asset_materialization_events()
    }
    assert set(meta) == {key(DONE), key(REMOVED), key(BROKEN), key(EMPTY)}
    assert (meta[key(DONE)]["videos_failed"], meta[key(DONE)]["videos_skipped"]) == (1, 0)
    assert set(meta[key(DONE)]["failures"]) == {"doneVideo01"} and "missing" in meta[key(DONE)]["failures"]["doneVideo01"]
    assert "doneVideo01" in meta[key(DONE)]["video_pages"] and "otherDone01" not in meta[key(DONE)]["video_pages"]
    assert (meta[key(REMOVED)]["videos_failed"], meta[key(REMOVED)]["videos_skipped"]) == (1, 1)
    assert set(meta[key(REMOVED)]["skipped"]) == {"removedVid1"} and set(meta[key(REMOVED)]["failures"]) == {"otherDone01"}
    assert meta[key(EMPTY)]["video_pages"] == "no videos" and meta[key(EMPTY)]["failures"] == {}
