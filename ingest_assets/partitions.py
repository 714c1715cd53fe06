"""Channel x date partitions shared by every per-video asset, and how backfills batch them.

A date partition is a calendar month (PARTITION_GRAIN=month, the default) or a day, from
PARTITION_START_DATE; backfills take BACKFILL_PARTITIONS_PER_RUN partitions a run. Both are settings, so
the per-video assets are built when the code location loads (`definitions.py`), not when this module is
imported: `per_video_asset` only marks a function as one."""

from __future__ import annotations

import datetime as dt
import warnings
from collections import defaultdict
from collections.abc import Sequence

import dagster as dg

from ytingest.core import grain as grains
from ytingest.settings import Settings, get_settings

CHANNELS = dg.DynamicPartitionsDefinition(name="channels")
# A run tagged with video ids (comma-separated) does only those videos of its partitions: `ytingest ingest
# --limit N` runs whole partitions, and other uploads of the same month are not part of the N.
SELECTION_TAG = "ytingest/videos"


def build_date_partitions(settings: Settings) -> dg.TimeWindowPartitionsDefinition:
    grain = settings.partition_grain
    start = dt.datetime.combine(grains.window(grain, settings.partition_start_date)[0], dt.time())
    # end_offset=1 so this month's (or today's) uploads have a partition before it is over.
    cls = dg.MonthlyPartitionsDefinition if grain == "month" else dg.DailyPartitionsDefinition
    return cls(start_date=start, end_offset=1, timezone="UTC", fmt=grains.KEY_FORMATS[grain])


def build_partitions_def(settings: Settings) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition({"channel": CHANNELS, "date": build_date_partitions(settings)})


def build_backfill_policy(settings: Settings) -> dg.BackfillPolicy:
    # Dagster groups a multi-partition selection along its narrower dimension, so ten years of one
    # channel becomes runs of BACKFILL_PARTITIONS_PER_RUN months (10 runs at 12), and one month over
    # all channels becomes runs of that many channels.
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=settings.partitions_per_run)


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


def windows_by_channel(keys: Sequence[str | dg.MultiPartitionKey]) -> dict[str, dict[str, grains.Span]]:
    """The run's partition keys ("channel|date" strings or MultiPartitionKeys), grouped by channel:
    each partition's key and its dates."""
    grain = get_settings().partition_grain
    grouped: dict[str, dict[str, grains.Span]] = defaultdict(dict)
    for key in keys:
        dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else _split(key)
        grouped[dims["channel"]][str(key)] = grains.window_of_key(grain, dims["date"])
    return dict(grouped)


def spans_by_channel(keys: Sequence[str | dg.MultiPartitionKey]) -> dict[str, list[grains.Span]]:
    """Per channel, the date ranges the run's partitions cover (adjacent partitions joined)."""
    return {channel: grains.merged(windows.values()) for channel, windows in windows_by_channel(keys).items()}


def selected_videos(tags: dict[str, str]) -> set[str] | None:
    """The video ids a run is limited to, or None for every video of its partitions."""
    value = tags.get(SELECTION_TAG)
    return None if value is None else {v for v in value.split(",") if v}


def _split(key: str) -> dict[str, str]:
    # Dimensions are joined in alphabetical order of their names: channel, then date.
    channel, date = key.rsplit("|", 1)
    return {"channel": channel, "date": date}


def partition_key(channel: str, day: dt.date) -> dg.MultiPartitionKey:
    """The key of the channel's partition that holds `day` (its month, at the default grain)."""
    return dg.MultiPartitionKey({"channel": channel, "date": grains.key(get_settings().partition_grain, day)})
