"""Channel x date partitions shared by every per-video asset, and how backfills batch them.

The date dimension starts at PARTITION_START_DATE and backfills take BACKFILL_DAYS_PER_RUN dates a run,
so the per-video assets are built from settings when the code location loads (`definitions.py`), not
when this module is imported: `per_video_asset` only marks a function as one."""

from __future__ import annotations

import datetime as dt
import warnings
from collections import defaultdict
from collections.abc import Sequence

import dagster as dg

from ytingest.settings import Settings

CHANNELS = dg.DynamicPartitionsDefinition(name="channels")
# A run tagged with video ids (comma-separated) does only those videos of its partitions: `ytingest ingest
# --limit N` runs whole dates, and other uploads of the same day are not part of the N.
SELECTION_TAG = "ytingest/videos"


def build_partitions_def(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            "channel": CHANNELS,
            # end_offset=1 so today's uploads have a partition before the day is over.
            "date": dg.DailyPartitionsDefinition(
                start_date=settings.partition_start_date.isoformat(), end_offset=1, timezone="UTC"
            ),
        }
    )


def build_backfill_policy(settings: Settings) -> dg.BackfillPolicy:
    # Dagster groups a multi-partition selection along its narrower dimension, so one channel over
    # three years becomes runs of BACKFILL_DAYS_PER_RUN dates (37 runs at 30), and one date over
    # all channels becomes runs of that many channels.
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=settings.backfill_days_per_run)


def per_video_asset(**kwargs):
    """Mark a function as a per-video asset with these `@dg.asset` arguments; `build_per_video_asset`
    makes it one on the channel x date partitions with batched backfills."""

    def mark(fn):
        fn.asset_kwargs = kwargs
        return fn

    return mark


def build_per_video_asset(fn, settings: Settings) -> dg.AssetsDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # backfill_policy is beta, and chosen knowingly
        return dg.asset(
            name=fn.__name__,
            partitions_def=build_partitions_def(settings),
            backfill_policy=build_backfill_policy(settings),
            **fn.asset_kwargs,
        )(fn)


def dates_by_channel(keys: Sequence[str]) -> dict[str, list[dt.date]]:
    """The run's partition keys ("channel|date" strings or MultiPartitionKeys), grouped by channel."""
    grouped: dict[str, set[dt.date]] = defaultdict(set)
    for key in keys:
        dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else _split(key)
        grouped[dims["channel"]].add(dt.date.fromisoformat(dims["date"]))
    return {channel: sorted(dates) for channel, dates in grouped.items()}


def selected_videos(tags: dict[str, str]) -> set[str] | None:
    """The video ids a run is limited to, or None for every video of its partitions."""
    value = tags.get(SELECTION_TAG)
    return None if value is None else {v for v in value.split(",") if v}


def _split(key: str) -> dict[str, str]:
    # Dimensions are joined in alphabetical order of their names: channel, then date.
    channel, date = key.rsplit("|", 1)
    return {"channel": channel, "date": date}


def partition_key(channel: str, date: dt.date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"channel": channel, "date": date.isoformat()})
