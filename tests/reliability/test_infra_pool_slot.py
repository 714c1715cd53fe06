"""Fault matrix: a run killed hard while its GPU step holds the `gpu` pool slot. The project's own
`ytingest dev` (webserver, daemon, code server) runs; runs go through the queued coordinator as a UI
launch does (GraphQL). Run A's transcripts step is held inside its write while run B waits for the slot;
A's run worker and step process are SIGKILLed, so neither can release the slot. The code server marks A
failed, the daemon's run monitoring frees A's slot FREE_SLOTS_AFTER_RUN_END_SECONDS after that (checked
every RUN_MONITORING_INTERVAL_SECONDS, both shortened here), and B's GPU steps run. A re-run of A's
partition then completes, and the archive is audited."""

import datetime as dt
import os
import signal
import time

import dagster as dg
import pytest

from tests.reliability.infra_fixtures import (
    assert_identical_counts,
    audit_archive,
    captioned_episodes,
    launch,
    lock_waiters,
    run_id_by_tag,
    run_worker_pid,
    step_worker_pid,
    table_locked,
    wait_for,
)
from tests.support.dev_server import ytingest_dev
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import generate_channel

DAY_A, DAY_B = dt.date(2026, 11, 13), dt.date(2026, 11, 14)
FREE_AFTER_S, MONITOR_EVERY_S = 3, 2


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = captioned_episodes("slotA", DAY_A, 1) + captioned_episodes("slotB", DAY_B, 1)
    return generate_channel(tmp_path_factory.mktemp("slot"), episodes)


@pytest.fixture
def dev_server(archive, instance, smoke_model_settings, tmp_path):
    from ytingest.app.instance import ensure_instance

    env = {
        **os.environ, **smoke_model_settings, "SENSOR_RUNNING": "false",
        "FREE_SLOTS_AFTER_RUN_END_SECONDS": str(FREE_AFTER_S), "RUN_MONITORING_INTERVAL_SECONDS": str(MONITOR_EVERY_S),
    }  # fmt: skip
    log_path = tmp_path / "dagster-dev.log"
    try:
        with ytingest_dev(env, log_path) as port:
            yield port, log_path
    finally:
        ensure_instance()  # dagster.yaml back to this process's settings for the tests that follow


def _holders(instance, pool="gpu"):
    info = instance.event_log_storage.get_concurrency_info(pool)
    return {(slot.run_id, slot.step_key) for slot in info.claimed_slots}, {
        (step.run_id, step.step_key) for step in info.pending_steps
    }


def _step_started(instance, run_id, step_key):
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START):
        if record.dagster_event.step_key == step_key:
            return record.timestamp
    return None


def test_killed_run_frees_its_gpu_slot(archive, instance, channel, smoke_model_settings, dev_server):
    from dagster_graphql import DagsterGraphQLClient

    from ingest_assets.partitions import partition_key
    from ytingest.app.channels import register_channel
    from ytingest.settings import get_settings

    port, log_path = dev_server
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)

    def submit(day, tag):
        return client.submit_job_execution(
            "ingest", tags={"dagster/partition": str(partition_key("slot", day)), "ytingest/test": tag}
        )

    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key="slot")
        with table_locked(archive, "transcript_segments"):
            run_a = submit(DAY_A, "slot-a")
            wait_for("run A's transcripts to hold the slot, blocked in its write",
                     lambda: lock_waiters(archive, "transcript_segments"), timeout=240)  # fmt: skip
            assert _holders(instance)[0] == {(run_a, "transcripts")}
            run_b = submit(DAY_B, "slot-b")
            wait_for("run B's transcripts to wait for the slot", lambda: (run_b, "transcripts") in _holders(instance)[1],
                     timeout=240)  # fmt: skip
            worker, step = run_worker_pid(instance, run_a), step_worker_pid(instance, run_a, "transcripts")
            assert worker and step and worker != step
            os.kill(worker, signal.SIGKILL)  # the run worker first, so nothing is left to free the slot
            os.kill(step, signal.SIGKILL)
            killed_at = time.time()
        failed_at = wait_for(
            "the code server to mark run A failed",
            lambda: instance.get_run_by_id(run_a).status == dg.DagsterRunStatus.FAILURE and time.time(),
            timeout=60,
        )
        # The slot is still A's: only run monitoring can free it now.
        assert (run_a, "transcripts") in _holders(instance)[0]
        freed_at = wait_for("A's slot to be freed", lambda: run_a not in {r for r, _ in _holders(instance)[0]} and time.time(),
                            timeout=120)  # fmt: skip
        b_started = wait_for("B's transcripts to start", lambda: _step_started(instance, run_b, "transcripts"), timeout=60)
        wait_for("run B to finish", lambda: instance.get_run_by_id(run_b).is_finished, timeout=300, every=1)
        assert instance.get_run_by_id(run_b).status == dg.DagsterRunStatus.SUCCESS, log_path.read_text()[-3000:]
        print(
            f"slot freed {freed_at - killed_at:.1f}s after the kill ({freed_at - failed_at:.1f}s after A was marked"
            f" failed); B's transcripts started {b_started - killed_at:.1f}s after the kill"
        )
        # Freed by run monitoring, FREE_SLOTS_AFTER_RUN_END_SECONDS after A ended (not by A, which was dead).
        assert freed_at >= instance.get_run_record_by_id(run_a).end_time + FREE_AFTER_S - 0.5

        rerun = launch("slot", DAY_A, DAY_A, "slot-a-rerun", {**os.environ, **smoke_model_settings})
        output = rerun.communicate(timeout=300)[0]
        assert rerun.returncode == 0, output[-3000:]
    assert run_id_by_tag(instance, "slot-a-rerun")
    counts = audit_archive(archive, get_settings().data_dir / "audio", 2)
    assert_identical_counts(counts)
    assert _holders(instance) == (set(), set())
