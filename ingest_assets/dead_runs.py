"""Runs whose launching process is gone: Dagster cannot tell a run whose launching process was killed
from a live one, so in-process runs carry their host and pid, and these are checked here."""

from __future__ import annotations

import socket
import time

import dagster as dg
import psutil

HOST_TAG = "ytingest/host"
PID_TAG = "ytingest/pid"
_UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
STEP_EXIT_WAIT_SECONDS = 10


def release_dead_runs(instance: dg.DagsterInstance, grace_seconds: float) -> list[str]:
    """Fail the in-process runs of this host whose process is gone, end their step processes and free
    their pool slots at once; free the slots of other runs that ended over `grace_seconds` ago. A killed
    `ytingest ingest` leaves its run STARTED for ever, holding its `gpu` slot, and only runs launched
    through a code server are watched by the daemon's run monitoring; without a daemon, nothing frees
    slots at all. Returns the ids of the runs it failed."""
    failed = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    storage = instance.event_log_storage
    for record in records:
        run = record.dagster_run
        if not _alive_since(int(run.tags.get(PID_TAG, "0")), record.create_timestamp.timestamp()):
            # Its steps die with their forkserver (ytingest.forkserver_guard); any still here are ended
            # before the slot goes, so no next GPU step can ever run beside one of them.
            _end_step_processes(instance, run.run_id)
            instance.report_run_failed(run, message=f"the process that ran it (pid {run.tags.get(PID_TAG)}) is gone")
            if storage.supports_global_concurrency_limits:
                storage.free_concurrency_slots_for_run(run.run_id)
            failed.append(run.run_id)
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            ended = instance.get_run_record_by_id(run_id)
            if ended is None or (ended.end_time is not None and ended.end_time + grace_seconds < time.time()):
                storage.free_concurrency_slots_for_run(run_id)
    return failed


def _end_step_processes(instance: dg.DagsterInstance, run_id: str) -> None:
    """SIGKILL the run's step processes that are still alive, and wait until they are gone."""
    alive = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED):
        pid = entry.dagster_event.event_specific_data.metadata.get("pid")
        if pid is not None and _alive_since(int(pid.value), entry.timestamp):
            alive.append(psutil.Process(int(pid.value)))
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=STEP_EXIT_WAIT_SECONDS)


def _alive_since(pid: int, started: float) -> bool:
    """Whether `pid` is a live process that already existed at `started` (a reused pid is not the run's)."""
    try:
        return pid > 0 and psutil.Process(pid).create_time() <= started + 1
    except psutil.Error:
        return False
