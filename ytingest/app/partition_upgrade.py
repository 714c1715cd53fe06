"""Upgrading an instance to another partition grain in place (PARTITION_GRAIN; instances made before the
setting existed are daily).

Nothing of the archive moves: videos keep their day (`videos.partition_date`), the ledger keeps every
step's outcome, so a run of a new partition finds its videos done and does nothing again. What the
grain changes is the keys Dagster shows: old daily materialisations stay in the event log but belong to
no monthly partition (month keys, `2024-06`, never read as days), so every partition would look
missing. The upgrade reports, from the ledger, a materialisation of each new partition whose work is
done, as a run would have: a step asset where that step has run for every one of the partition's
videos, `videos` where `audio` has, and `outcomes` where every video is done or unavailable for a
permanent cause. A partition with a video that needs attention keeps `outcomes` missing; its next run
retries just those videos and shows it red."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Iterator

import dagster as dg

from ingest_assets.outcomes import STEPS, video_outcome
from ingest_assets.partitions import CHANNELS
from resources.postgres import PostgresResource
from ytingest.core import grain as grains
from ytingest.settings import Settings
from ytingest.store import catalog

GRAIN_KEY = "ytingest/partition_grain"  # in the instance's key-value store: the grain its history has
ASSETS = ("videos", *STEPS, "outcomes")
# Any fixed number: one upgrade at a time, however many `ytingest` commands start at once.
UPGRADE_LOCK = 0x79746772
BATCH = 500  # materialisations a write


def upgrade_partitions(instance: dg.DagsterInstance, settings: Settings) -> int:
    """Record the grain; when the instance's history is of another grain, first report the ledger's
    finished work on the new partitions. Returns how many materialisations were reported."""
    grain = settings.partition_grain
    if _recorded_grain(instance) == grain:
        return 0
    with PostgresResource().connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (UPGRADE_LOCK,))
        recorded = _recorded_grain(instance)
        if recorded == grain:
            return 0
        # No grain recorded and history in the event log: made before grains were recorded, so daily.
        previous = recorded or ("day" if _has_history(instance) else grain)
        reported = report_from_ledger(instance, settings, conn) if previous != grain else 0
        instance.run_storage.set_cursor_values({GRAIN_KEY: grain})
    if reported:
        print(f"ytingest: done: {reported} materialisations carried over (no run, nothing redone)", file=sys.stderr)
    return reported


def report_from_ledger(instance: dg.DagsterInstance, settings: Settings, conn) -> int:
    """Report a materialisation of each partition of the current grain whose work the ledger holds and
    that has none yet."""
    grain = settings.partition_grain
    first = grains.window(grain, settings.partition_start_date)[0]
    last = grains.window(grain, dt.datetime.now(dt.UTC).date())[1]
    partitions: dict[str, dict[str, dict[str, catalog.StepStatus]]] = defaultdict(lambda: defaultdict(dict))
    for row in catalog.ledger(conn, instance.get_dynamic_partitions(CHANNELS.name), first):
        if row.partition_date > last:
            continue
        key = dg.MultiPartitionKey({"channel": row.channel_key, "date": grains.key(grain, row.partition_date)})
        steps = partitions[str(key)][row.video_id]
        if row.asset is not None:
            steps[row.asset] = row.status
    present = {name: instance.get_materialized_partitions(dg.AssetKey(name)) for name in ASSETS}
    note = f"carried over from the ledger when the partitions became {grain}s; no run"
    due: dict[str, list[dg.AssetMaterialization]] = defaultdict(list)
    for key, videos in partitions.items():
        for name, metadata in _finished(videos):
            if key not in present[name]:
                due[name].append(dg.AssetMaterialization(name, partition=key, metadata={**metadata, "carried_over": note}))
    count = sum(len(events) for events in due.values())
    if count:
        print(f"ytingest: partitions are now {grain}s: reporting {count} materialisations from the ledger ...",
              file=sys.stderr, flush=True)  # fmt: skip
    for events in due.values():
        _store(instance, events)
    return count


def _store(instance: dg.DagsterInstance, materializations: list[dg.AssetMaterialization]) -> None:
    """Runless materialisations of one asset, written a batch at a time (one INSERT each, as Dagster's
    own batched writes are) instead of one event, and its own connections, each: about 30 ms an event
    here, which would make the upgrade of a 100-channel archive take most of an hour."""
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

    for start in range(0, len(materializations), BATCH):
        instance.event_log_storage.store_event_batch([
            EventLogEntry(
                user_message="", level=logging.INFO, job_name=RUNLESS_JOB_NAME, run_id=RUNLESS_RUN_ID, error_info=None,
                timestamp=time.time(), step_key=None,
                dagster_event=DagsterEvent(
                    DagsterEventType.ASSET_MATERIALIZATION.value, RUNLESS_JOB_NAME,
                    event_specific_data=StepMaterializationData(materialization),
                ),
            )
            for materialization in materializations[start : start + BATCH]
        ])  # fmt: skip


def _finished(videos: dict[str, dict[str, catalog.StepStatus]]) -> Iterator[tuple[str, dict]]:
    """The assets a partition's videos (video -> step -> outcome) have finished, with their counts."""
    ledger = {step: {video: steps[step] for video, steps in videos.items() if step in steps} for step in STEPS}
    count = len(videos)
    if len(ledger["audio"]) == count:
        yield "videos", {"videos": count}
    for step in STEPS:
        if len(ledger[step]) == count:
            statuses = [status.status for status in ledger[step].values()]
            yield step, {
                "videos": count,
                "videos_done": statuses.count("succeeded"),
                "videos_failed": statuses.count("failed"),
                "videos_skipped": statuses.count("skipped"),
            }
    kinds = [video_outcome(video, ledger)[0] for video in videos]
    if all(kind in ("done", "unavailable") for kind in kinds):
        yield "outcomes", {"videos": count, "done": kinds.count("done"), "unavailable": kinds.count("unavailable")}


def _recorded_grain(instance: dg.DagsterInstance) -> str | None:
    return instance.run_storage.get_cursor_values({GRAIN_KEY}).get(GRAIN_KEY)


def _has_history(instance: dg.DagsterInstance) -> bool:
    return any(instance.get_latest_materialization_event(dg.AssetKey(name)) is not None for name in ASSETS)
