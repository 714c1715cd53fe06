"""Backfills launched through Dagster's own asset-backfill machinery (the daemon's iteration), on the
on-disk Postgres instance: one channel over ten years, and one month over every channel."""

import datetime as dt
import logging
import time
from pathlib import Path

import dagster as dg
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration

from ingest_assets.partitions import CHANNELS, partition_key
from ytingest.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def _launch(instance, partition_names: list[str]) -> list[dg.DagsterRun]:
    target = ModuleTarget(module_name="definitions", attribute=None, working_directory=str(ROOT), location_name="ytingest")
    with create_test_daemon_workspace_context(target, instance) as context:
        asset_graph = context.create_request_context().asset_graph
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id="bf" + str(time.time_ns()),
            asset_graph=asset_graph,
            partition_names=partition_names,
            asset_selection=[dg.AssetKey("videos"), dg.AssetKey("audio")],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        list(execute_backfill_iteration(context, logging.getLogger("backfill-test")))
    return instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))


def _months(first: dt.date, count: int) -> list[dt.date]:
    return [dt.date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1) for n in range(count)]


def _covered(run: dg.DagsterRun) -> tuple[str, str]:
    return run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]


def test_a_hundred_channels_over_ten_years_stay_under_25000_keys(archive, instance, monkeypatch):
    from definitions import defs

    monkeypatch.setenv("PARTITION_START_DATE", "2016-01-01")
    instance.add_dynamic_partitions(CHANNELS.name, [f"ch{n:03d}" for n in range(100)])
    partitions = defs().get_assets_def("audio").partitions_def
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        count = partitions.get_num_partitions()
    today = dt.datetime.now(dt.UTC).date()
    months = (today.year - 2016) * 12 + today.month  # up to this month (end_offset=1)
    assert count == 100 * months <= 25_000


def test_ten_years_of_one_channel_is_ten_runs(archive, instance, monkeypatch):
    monkeypatch.setenv("PARTITION_START_DATE", "2016-01-01")
    instance.add_dynamic_partitions(CHANNELS.name, ["alpha", "beta"])
    months = _months(dt.date(2016, 1, 1), 120)
    runs = _launch(instance, [str(partition_key("alpha", m)) for m in months])

    per_run = get_settings().partitions_per_run
    assert len(runs) == -(-len(months) // per_run) == 10
    covered = []
    for run in runs:
        start, end = _covered(run)
        channel, first = start.split("|")
        assert channel == "alpha" and end.startswith("alpha|")
        span = [m for m in months if first <= m.strftime("%Y-%m") <= end.split("|")[1]]
        assert 1 <= len(span) <= per_run
        covered += span
    assert sorted(covered) == months  # every month exactly once, nothing of channel beta


def test_one_month_over_all_channels(archive, instance):
    channels = [f"ch{n:02d}" for n in range(15)]
    instance.add_dynamic_partitions(CHANNELS.name, channels)
    runs = _launch(instance, [str(partition_key(c, dt.date(2024, 6, 17))) for c in channels])
    assert len(runs) == 2  # fifteen channels, twelve partitions a run
    spans = sorted(_covered(run) for run in runs)
    assert all(start.endswith("|2024-06") and end.endswith("|2024-06") for start, end in spans)
    assert (spans[0][0], spans[-1][1]) == ("ch00|2024-06", "ch14|2024-06")


def test_batch_size_comes_from_settings(monkeypatch):
    from definitions import defs

    def policies() -> set[int]:
        return {a.backfill_policy.max_partitions_per_run for a in defs().assets}

    assert policies() == {12}
    monkeypatch.setenv("PARTITION_GRAIN", "day")
    assert policies() == {30}  # the daily grain keeps its month a run
    monkeypatch.setenv("BACKFILL_PARTITIONS_PER_RUN", "7")
    assert policies() == {7}
