"""Backfills launched through Dagster's own asset-backfill machinery (the daemon's iteration), on the
on-disk Postgres instance: one channel over three years, and one date over every channel."""

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


def _dates(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _covered(run: dg.DagsterRun) -> tuple[str, str]:
    return run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]


def test_three_years_of_one_channel_is_about_forty_runs(archive, instance):
    instance.add_dynamic_partitions(CHANNELS.name, ["alpha", "beta"])
    dates = _dates(dt.date(2023, 1, 1), dt.date(2025, 12, 31))
    runs = _launch(instance, [str(partition_key("alpha", d)) for d in dates])

    per_run = get_settings().backfill_days_per_run
    assert len(runs) == -(-len(dates) // per_run) == 37
    covered = set()
    for run in runs:
        start, end = _covered(run)
        channel, first = start.split("|")
        assert channel == "alpha" and end.startswith("alpha|")
        span = _dates(dt.date.fromisoformat(first), dt.date.fromisoformat(end.split("|")[1]))
        assert len(span) <= per_run
        covered.update(span)
    assert covered == set(dates)  # every date exactly in the union, nothing of channel beta


def test_one_date_over_all_channels(archive, instance):
    channels = [f"ch{n:02d}" for n in range(5)]
    instance.add_dynamic_partitions(CHANNELS.name, channels)
    day = dt.date(2024, 6, 1)
    runs = _launch(instance, [str(partition_key(c, day)) for c in channels])
    assert len(runs) == 1
    start, end = _covered(runs[0])
    assert start.endswith("|2024-06-01") and end.endswith("|2024-06-01")
    assert {start.split("|")[0], end.split("|")[0]} == {"ch00", "ch04"}


def test_batch_size_comes_from_settings(monkeypatch):
    from definitions import defs

    monkeypatch.setenv("BACKFILL_DAYS_PER_RUN", "7")
    policies = {a.key.to_user_string(): a.backfill_policy.max_partitions_per_run for a in defs().assets}
    assert set(policies.values()) == {7}, policies
