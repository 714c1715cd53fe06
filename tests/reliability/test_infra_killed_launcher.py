"""Fault matrix: `ytingest ingest` SIGKILLed (or its terminal closed) while its GPU step is mid-write,
and the next ingest started at once. Only the launching process is killed, as kill -9 of the command
does: its forkserver and step process must stop by themselves (ytingest.forkserver_guard), the next
launch must fail the dead run and free its `gpu` slot without waiting for FREE_SLOTS_AFTER_RUN_END_SECONDS
(set to an hour here), and the pool's history must never show two GPU steps at once."""

import datetime as dt
import os
import signal
import time

import dagster as dg
import psutil
import pytest

from tests.reliability.infra_fixtures import (
    audit_archive,
    captioned_episodes,
    launch,
    lock_waiters,
    run_id_by_tag,
    step_worker_pid,
    table_locked,
    wait_for,
)
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import generate_channel

DAY = dt.date(2026, 11, 15)
GPU_STEPS = ("transcripts", "diarization", "voice_embeddings", "text_embeddings")


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    return generate_channel(tmp_path_factory.mktemp("killed"), captioned_episodes("killed", DAY, 1))


def _session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


def test_killed_ingest_takes_its_steps_with_it_and_the_rerun_never_waits(
    archive, instance, channel, smoke_model_settings
):
    from ingest_assets.dead_runs import release_dead_runs
    from ytingest.app.channels import register_channel
    from ytingest.app.runs import overlapping, step_intervals
    from ytingest.settings import get_settings

    env = {**os.environ, **smoke_model_settings, "FREE_SLOTS_AFTER_RUN_END_SECONDS": "3600"}
    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key="killed")
        with table_locked(archive, "transcript_segments"):
            killed = launch("killed", DAY, DAY, "killed-launcher", env)
            run_a = wait_for("the run to start", lambda: run_id_by_tag(instance, "killed-launcher"), timeout=120)
            wait_for("its transcripts step to block in its write, holding the gpu slot",
                     lambda: lock_waiters(archive, "transcript_segments"), timeout=240)  # fmt: skip
            step = step_worker_pid(instance, run_a, "transcripts")
            assert step and step != killed.pid
            os.kill(killed.pid, signal.SIGKILL)  # the launcher only, as kill -9 of `ytingest ingest` does
            killed.wait(timeout=30)
            killed_at = time.time()
            # Its forkserver and step process notice and stop by themselves; nothing of the session is left.
            wait_for("the killed run's processes to stop by themselves",
                     lambda: not _session_processes(killed.pid), timeout=20)  # fmt: skip
            gone_at = time.time()
        assert not psutil.pid_exists(step) or psutil.Process(step).status() == psutil.STATUS_ZOMBIE
        assert instance.get_run_by_id(run_a).status == dg.DagsterRunStatus.STARTED  # nobody has told Dagster yet

        rerun = launch("killed", DAY, DAY, "killed-rerun", env)
        output = rerun.communicate(timeout=300)[0]  # far below the hour a grace-period release would take
        assert rerun.returncode == 0, output[-3000:]
    run_b = run_id_by_tag(instance, "killed-rerun")
    assert instance.get_run_by_id(run_a).status == dg.DagsterRunStatus.FAILURE
    pool = instance.event_log_storage.get_concurrency_info("gpu")
    assert not pool.claimed_slots and not pool.pending_steps
    assert release_dead_runs(instance, grace_seconds=0) == []  # idempotent; live or ended runs are never touched

    # The pool's history: the killed run's transcripts held the GPU from its start until its process was
    # gone; no step of the re-run's overlaps it or another.
    a_start = step_intervals(instance, run_a)
    starts = {
        r.dagster_event.step_key: r.timestamp
        for r in instance.all_logs(run_a, of_type=dg.DagsterEventType.STEP_START)
    }
    held = [((starts["transcripts"], gone_at), "A:transcripts")]
    held += [(interval, f"A:{key}") for key, interval in a_start.items() if key in GPU_STEPS]
    held += [(interval, f"B:{key}") for key, interval in step_intervals(instance, run_b).items() if key in GPU_STEPS]
    assert len(held) >= 1 + len(GPU_STEPS), held
    assert overlapping(held) == [], held
    print(f"killed run's processes gone {gone_at - killed_at:.1f}s after the kill")
    audit_archive(archive, get_settings().data_dir / "audio", 1)
