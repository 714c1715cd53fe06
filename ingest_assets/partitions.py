"""Channel x date partitions shared by every per-video asset, and how backfills batch them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import dagster as dg

from resources.settings import get_settings

CHANNELS = dg.DynamicPartitionsDefinition(name="channels")


def build_partitions_def() -> dg.MultiPartitionsDefinition:
    settings = get_settings()
    return dg.MultiPartitionsDefinition(
        {
            "channel": CHANNELS,
            # end_offset=1 so today's uploads have a partition before the day is over.
            "date": dg.DailyPartitionsDefinition(
                start_date=settings.partition_start_date.isoformat(), end_offset=1, timezone="UTC"
            ),
        }
    )


def build_backfill_policy() -> dg.BackfillPolicy:
    # Dagster groups a multi-partition selection along its narrower dimension, so one channel over
    # three years becomes runs of BACKFILL_DAYS_PER_RUN dates (37 runs at 30), and one date over
    # all channels becomes runs of that many channels.
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=get_settings().backfill_days_per_run)


PARTITIONS = build_partitions_def()
BACKFILL_POLICY = build_backfill_policy()


def per_video_asset(**kwargs):
    """`@dg.asset` on the channel x date partitions with batched backfills, as every per-video asset is."""
    return dg.asset(partitions_def=PARTITIONS, backfill_policy=BACKFILL_POLICY, **kwargs)


def dates_by_channel(keys: Sequence[str]) -> dict[str, list[dt.date]]:
    """The run's partition keys ("channel|date" strings or MultiPartitionKeys), grouped by channel."""
    grouped: dict[str, set[dt.date]] = defaultdict(set)
    for key in keys:
        dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else _split(key)
        grouped[dims["channel"]].add(dt.date.fromisoformat(dims["date"]))
    return {channel: sorted(dates) for channel, dates in grouped.items()}


def _split(key: str) -> dict[str, str]:
    # Dimensions are joined in alphabetical order of their names: channel, then date.
    channel, date = key.rsplit("|", 1)
    return {"channel": channel, "date": date}


def partition_key(channel: str, date: dt.date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"channel": channel, "date": date.isoformat()})
