"""Launching the ingest job from Python (CLI, demo, tests) through the project's Dagster instance,
so the runs are ordinary runs that show in the UI, with pools and the multiprocess executor."""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ingest_assets.dead_runs import HOST_TAG, PID_TAG, release_dead_runs
from ingest_assets.partitions import SELECTION_TAG, partition_key
from ytingest.settings import get_settings


def ingest_job_def() -> dg.JobDefinition:
    """Module-level so that `dg.reconstructable` can rebuild the job in step subprocesses."""
    from definitions import defs

    return defs().resolve_job_def("ingest")


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool


def run_channel_dates(
    instance: dg.DagsterInstance,
    channel: str,
    first: dt.date,
    last: dt.date,
    tags: dict[str, str] | None = None,
    video_ids: list[str] | None = None,
) -> RunOutcome:
    """One run of the whole graph over the channel's partitions that hold [first, last], as a backfill
    batch would run it. Runs whose launching process died are failed first and their slots freed, so
    this one never waits on them. With `video_ids`, the run does only those videos of its partitions."""
    release_dead_runs(instance, get_settings().free_slots_after_run_end_seconds)
    run_tags = {
        ASSET_PARTITION_RANGE_START_TAG: str(partition_key(channel, first)),
        ASSET_PARTITION_RANGE_END_TAG: str(partition_key(channel, last)),
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        **({SELECTION_TAG: ",".join(video_ids)} if video_ids is not None else {}),
        **(tags or {}),
    }
    with dg.execute_job(dg.reconstructable(ingest_job_def), instance=instance, tags=run_tags) as result:
        return RunOutcome(run_id=result.run_id, success=result.success)


def step_intervals(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """Each finished step's (start, end) wall-clock seconds, from the run's event log."""
    starts, ends = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ends[event.step_key] = record.timestamp
    return {key: (starts[key], ends[key]) for key in starts if key in ends}


def overlapping(intervals: list[tuple[tuple[float, float], str]]) -> list[tuple[str, str]]:
    """Pairs of labelled intervals that overlap in time."""
    ordered = sorted(intervals)
    return [(a, b) for (first, a), (second, b) in zip(ordered, ordered[1:]) if second[0] < first[1]]
