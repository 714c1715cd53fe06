"""Launching the ingest job from Python (CLI, demo, tests) through the project's Dagster instance,
so the runs are ordinary runs that show in the UI, with pools and the multiprocess executor."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import dataclass

import dagster as dg
import psutil
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ingest_assets.partitions import partition_key

# Who runs an in-process run: Dagster cannot tell a run whose launching process was killed from a live one.
HOST_TAG = "ytingest/host"
PID_TAG = "ytingest/pid"
_UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def ingest_job_def() -> dg.JobDefinition:
    """Module-level so that `dg.reconstructable` can rebuild the job in step subprocesses."""
    from definitions import defs

    return defs.resolve_job_def("ingest")


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool


def run_channel_dates(
    instance: dg.DagsterInstance, channel: str, first: dt.date, last: dt.date, tags: dict[str, str] | None = None
) -> RunOutcome:
    """One run of the whole graph over channel x [first, last], as a backfill batch would run it."""
    run_tags = {
        ASSET_PARTITION_RANGE_START_TAG: str(partition_key(channel, first)),
        ASSET_PARTITION_RANGE_END_TAG: str(partition_key(channel, last)),
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        **(tags or {}),
    }
    with dg.execute_job(dg.reconstructable(ingest_job_def), instance=instance, tags=run_tags) as result:
        return RunOutcome(run_id=result.run_id, success=result.success)


def release_dead_runs(instance: dg.DagsterInstance, grace_seconds: float) -> list[str]:
    """Fail the in-process runs of this host whose process is gone, and free the pool slots of runs that
    ended over `grace_seconds` ago. A killed `ytingest ingest` leaves its run STARTED for ever, holding its
    `gpu` slot, and only runs launched through a code server are watched by the daemon's run monitoring;
    without a daemon, nothing frees slots at all. Returns the ids of the runs it failed."""
    failed = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    for record in records:
        run = record.dagster_run
        if not _alive_since(int(run.tags.get(PID_TAG, "0")), record.create_timestamp.timestamp()):
            instance.report_run_failed(run, message=f"the process that ran it (pid {run.tags.get(PID_TAG)}) is gone")
            failed.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            ended = instance.get_run_record_by_id(run_id)
            if ended is None or (ended.end_time is not None and ended.end_time + grace_seconds < time.time()):
                storage.free_concurrency_slots_for_run(run_id)
    return failed


def _alive_since(pid: int, started: float) -> bool:
    """Whether `pid` is a live process that already existed at `started` (a reused pid is not the run's)."""
    try:
        return pid > 0 and psutil.Process(pid).create_time() <= started + 1
    except psutil.Error:
        return False


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
