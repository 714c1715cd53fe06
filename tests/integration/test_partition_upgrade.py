"""An instance built on the old grain (daily partitions, as every instance before PARTITION_GRAIN was)
upgrades in place to monthly ones: its videos and their outcomes are kept, the UI shows the finished
months materialised, and running the months redoes nothing."""

import datetime as dt

import dagster as dg
import psycopg
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ingest_assets.partitions import partition_key
from ytingest.offline.loopback_server import Fault, LoopbackChannel
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

CHANNEL = "upgrade"
# Two videos in one month, one in the next with a removed one (permanent), one in the third that
# keeps failing (needs attention).
DAYS = {
    "upgAprFirst": dt.date(2026, 4, 6),
    "upgAprLater": dt.date(2026, 4, 21),
    "upgMayDone1": dt.date(2026, 5, 3),
    "upgMayGone1": dt.date(2026, 5, 12),
    "upgJunBroke": dt.date(2026, 6, 2),
}
APRIL, MAY, JUNE = (dt.date(2026, m, 1) for m in (4, 5, 6))


def _run(instance, first: dt.date, last: dt.date) -> dg.ExecuteInProcessResult:
    """The whole graph over the channel's partitions holding [first, last], as a backfill run does it."""
    from definitions import defs

    built = defs()
    return dg.materialize(
        list(built.assets), instance=instance, resources=built.resources, raise_on_error=False,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: str(partition_key(CHANNEL, first)),
            ASSET_PARTITION_RANGE_END_TAG: str(partition_key(CHANNEL, last)),
        },
    )  # fmt: skip


def _archive(url: str) -> tuple[list, list]:
    """Every video with its day, and every step outcome (by the feed's ids)."""
    with psycopg.connect(url) as conn:
        videos = conn.execute("SELECT source_id, partition_date, published_at FROM videos ORDER BY source_id").fetchall()
        steps = conn.execute(
            "SELECT v.source_id, s.asset, s.status, s.permanent, s.revision, s.attempts"
            " FROM video_steps s JOIN videos v USING (video_id) ORDER BY v.source_id, s.asset"
        ).fetchall()
    return videos, steps


def _status(instance, name: str) -> tuple[set[str], set[str]]:
    from definitions import defs

    asset = defs().get_assets_def(name)
    cache = get_and_update_asset_status_cache_value(instance, asset.key, asset.partitions_def)
    materialized = cache.deserialize_materialized_partition_subsets(asset.partitions_def).get_partition_keys()
    failed = cache.deserialize_failed_partition_subsets(asset.partitions_def).get_partition_keys()
    return set(materialized), set(failed)


def _forget_recorded_grain(instance) -> None:
    """As landed main left an instance: daily history and no grain recorded."""
    from dagster._core.storage.runs.schema import KeyValueStoreTable

    from ytingest.app.partition_upgrade import GRAIN_KEY

    with instance.run_storage.connect() as conn:
        conn.execute(KeyValueStoreTable.delete().where(KeyValueStoreTable.c.key == GRAIN_KEY))
    assert instance.run_storage.get_cursor_values({GRAIN_KEY}) == {}


def test_a_daily_instance_upgrades_in_place(archive, instance, smoke_model_settings, monkeypatch, tmp_path):
    from ytingest.app.channels import register_channel
    from ytingest.app.instance import ensure_instance

    episodes = [
        quick_episode(video_id, published=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), captions=Captions.MANUAL)
        for video_id, day in DAYS.items()
    ]
    site = generate_channel(tmp_path / "channel", episodes)
    with LoopbackChannel(site) as server:
        server.set_fault("upgMayGone1", Fault.not_found())
        server.set_fault("upgJunBroke", Fault.server_error())

        # The old grain: daily partitions, one run over the range of days, as a backfill batch ran it.
        monkeypatch.setenv("PARTITION_GRAIN", "day")
        ensure_instance()
        register_channel(server.rss_url, key=CHANNEL)
        daily = _run(instance, min(DAYS.values()), max(DAYS.values()))
        assert not daily.success  # `outcomes` fails, naming the broken video, as it should
        day_keys = {video: str(partition_key(CHANNEL, day)) for video, day in DAYS.items()}
        done_days, failed_days = _status(instance, "outcomes")
        assert {day_keys["upgAprFirst"], day_keys["upgMayGone1"]} <= done_days and failed_days == {day_keys["upgJunBroke"]}
        before = _archive(archive)
        assert {(v, a) for v, a, status, *_ in before[1] if status == "succeeded" and a == "text_embeddings"} == {
            ("upgAprFirst", "text_embeddings"), ("upgAprLater", "text_embeddings"), ("upgMayDone1", "text_embeddings")
        }
        _forget_recorded_grain(instance)

        # The upgrade: the default grain, on the first command that opens the instance.
        monkeypatch.delenv("PARTITION_GRAIN")
        ensure_instance()
        assert _archive(archive) == before  # videos, their days and every outcome as they were
        month = lambda day: str(partition_key(CHANNEL, day))  # noqa: E731
        assert month(APRIL) == f"{CHANNEL}|2026-04"
        assert _status(instance, "outcomes") == ({month(APRIL), month(MAY)}, set())  # June needs attention
        for step in ("videos", "audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings"):
            assert _status(instance, step)[0] == {month(APRIL), month(MAY), month(JUNE)}, step
        [carried] = [
            e.asset_materialization.metadata
            for e in instance.fetch_materializations(dg.AssetKey("outcomes"), limit=10).records
            if e.asset_materialization.partition == month(MAY)
        ]
        assert (carried["videos"].value, carried["done"].value, carried["unavailable"].value) == (2, 1, 1)
        assert "carried over from the ledger" in carried["carried_over"].value
        reported = len(instance.fetch_materializations(dg.AssetKey("audio"), limit=1000).records)
        ensure_instance()  # once only
        assert len(instance.fetch_materializations(dg.AssetKey("audio"), limit=1000).records) == reported

        # Running the months redoes nothing the ledger has: only the two failed videos are tried again.
        monthly = _run(instance, APRIL, JUNE)
        after = _archive(archive)
    assert not monthly.success
    assert after[0] == before[0]
    changed = {(video, asset) for old, new in zip(before[1], after[1], strict=True) if old != new for video, asset in [old[:2]]}
    assert {video for video, _ in changed} <= {"upgMayGone1", "upgJunBroke"}, changed
    assert _status(instance, "outcomes") == ({month(APRIL), month(MAY)}, {month(JUNE)})
    transcripts = {
        e.materialization.partition: e.materialization.metadata for e in monthly.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("transcripts")
    }  # fmt: skip
    assert transcripts[month(APRIL)]["videos_already_done"].value == 2
