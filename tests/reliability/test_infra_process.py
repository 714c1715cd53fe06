"""Fault matrix, process and database faults, on the on-disk instance with the multiprocess executor:
a step process SIGKILLed in the middle of its write transaction; the application database's backends
terminated (what a Postgres restart does to its clients) while a step is writing; two runs of the same
partition at once. Each ends with a re-run and an audit: every video succeeded once per asset, equal
content has equal row counts, no partial or duplicate rows, the files on disk are exactly the database's."""

import datetime as dt
import os
import signal

import dagster as dg
import psycopg
import pytest

from tests.reliability.infra_fixtures import (
    assert_identical_counts,
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

DAY = dt.date(2026, 11, 12)
VIDEOS = 2


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    return generate_channel(tmp_path_factory.mktemp("infra"), captioned_episodes("infraVid", DAY, VIDEOS))


@pytest.fixture
def site(archive, channel):
    from ytingest.app.channels import register_channel

    with LoopbackChannel(channel) as loopback:
        register_channel(loopback.rss_url, key="infra")
        yield loopback


def _audio_dir():
    from ytingest.settings import get_settings

    return get_settings().data_dir / "audio"


def _finish(process, timeout=300) -> str:
    output = process.communicate(timeout=timeout)[0]
    return output[-3000:]


def _rerun_and_audit(instance, archive, env, tag):
    rerun = launch("infra", DAY, DAY, tag, env)
    output = _finish(rerun)
    assert rerun.returncode == 0, output
    counts = audit_archive(archive, _audio_dir(), VIDEOS)
    assert_identical_counts(counts)
    return counts


def _step_events(instance, run_id, step_key):
    return [
        r.dagster_event.event_type
        for r in instance.all_logs(run_id)
        if r.dagster_event is not None and r.dagster_event.step_key == step_key
    ]


def test_database_lost_then_step_killed_mid_write_then_rerun(archive, instance, site, smoke_model_settings):
    """Two faults in a row on one partition, then a re-run.

    1. Every backend of the application database is terminated (what a Postgres restart does to its
       clients) while the transcripts step is inside its write: the step fails with the connection error,
       its open transaction is rolled back, the run ends failed, no video is marked failed for it.
       Dagster's own storage (a sibling database) is left alone, so the run can record its failure.
    2. The next run's diarization step process is SIGKILLed (as the OOM killer would) inside its write
       transaction: the run fails at that step, what finished before stays finished, nothing of the open
       transaction is kept.
    3. A re-run skips what was done, completes the rest, and the audit finds everything exactly once."""
    env = {**os.environ, **smoke_model_settings}

    with table_locked(archive, "transcript_segments") as holder:
        first = launch("infra", DAY, DAY, "pg-terminated", env)
        wait_for("transcripts to block in its write", lambda: lock_waiters(archive, "transcript_segments"))
        with psycopg.connect(archive, autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
                (holder.info.backend_pid,),
            ).fetchall()
        assert terminated and all(ok for (ok,) in terminated)
    output = _finish(first)
    assert first.returncode == 1, output
    run_id = run_id_by_tag(instance, "pg-terminated")
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert dg.DagsterEventType.STEP_FAILURE in _step_events(instance, run_id, "transcripts")
    with psycopg.connect(archive) as conn:
        assert conn.execute("SELECT count(*) FROM transcripts").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM transcript_segments").fetchone() == (0,)
        steps = dict(conn.execute("SELECT asset, count(*) FROM video_steps GROUP BY asset").fetchall())
    assert steps == {"audio": VIDEOS}  # a lost connection is the step's failure, not a video's

    with table_locked(archive, "speaker_turns"):
        second = launch("infra", DAY, DAY, "killed-step", env)
        wait_for("diarization to block in its write", lambda: lock_waiters(archive, "speaker_turns"))
        run_id = run_id_by_tag(instance, "killed-step")
        pid = wait_for("the step's pid", lambda: step_worker_pid(instance, run_id, "diarization"), timeout=30)
        with psycopg.connect(archive) as conn:
            # The diarizations row is written, uncommitted, in the blocked transaction: invisible here.
            assert conn.execute("SELECT count(*) FROM diarizations").fetchone() == (0,)
        os.kill(pid, signal.SIGKILL)
    output = _finish(second)
    assert second.returncode == 1, output
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert dg.DagsterEventType.STEP_FAILURE in _step_events(instance, run_id, "diarization")
    with psycopg.connect(archive) as conn:
        assert conn.execute("SELECT count(*) FROM diarizations").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM speaker_turns").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM voice_embeddings").fetchone() == (0,)
        steps = dict(conn.execute("SELECT asset, count(*) FROM video_steps GROUP BY asset").fetchall())
    assert steps == {"audio": VIDEOS, "transcripts": VIDEOS}

    _rerun_and_audit(instance, archive, env, "rerun")
    with psycopg.connect(archive) as conn:
        attempts = dict(conn.execute("SELECT asset, max(attempts) FROM video_steps GROUP BY asset").fetchall())
    # Nothing finished was redone: audio once (run 1), transcripts once (run 2), the rest once (run 3).
    assert set(attempts.values()) == {1}, attempts


def test_two_runs_of_one_partition_at_once(archive, instance, site, smoke_model_settings):
    """Two runs of the same partition launched together: both end successfully (the later GPU steps find
    the work done), and the archive holds exactly one copy of everything."""
    env = {**os.environ, **smoke_model_settings}
    runs = [launch("infra", DAY, DAY, f"twin-{n}", env) for n in range(2)]
    outputs = [_finish(p) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], "\n\n".join(outputs)
    counts = audit_archive(archive, _audio_dir(), VIDEOS)
    assert_identical_counts(counts)
    ids = [run_id_by_tag(instance, f"twin-{n}") for n in range(2)]
    assert all(instance.get_run_by_id(i).status == dg.DagsterRunStatus.SUCCESS for i in ids)


def test_abandoned_download_work_dirs_are_removed_but_live_ones_kept(tmp_path):
    """A download killed mid-way leaves its work directory; the next download of that video removes it,
    but never one a live download (another run of the same partition) holds."""
    from resources.media import _lock_work_dir, _remove_abandoned_work_dirs

    abandoned, live, other_video, mine = (tmp_path / name for name in
                                          (".vid1.abc.work", ".vid1.def.work", ".vid2.ghi.work", ".vid1.jkl.work"))  # fmt: skip
    for path in (abandoned, live, other_video, mine):
        path.mkdir()
        (path / "source.mp4").write_bytes(b"partial")
    held = _lock_work_dir(live, wait=True)
    try:
        _remove_abandoned_work_dirs(tmp_path, "vid1", keep=mine)
    finally:
        os.close(held)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".vid1.def.work", ".vid1.jkl.work", ".vid2.ghi.work"]


def test_same_video_downloaded_twice_at_once(channel, tmp_path):
    """Two downloads of one video overlapping in time (two runs of one partition; the media is served
    slowly so they surely overlap) both succeed with the same WAV and captions, and leave nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    from resources.media import MediaSource
    from ytingest.offline.loopback_server import Fault

    video_id = channel.episodes[0].video_id
    with LoopbackChannel(channel, faults={video_id: Fault.slow(stall_s=0.3, chunks=6)}) as loopback:
        url = loopback.watch_url(video_id)
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda _: MediaSource().download_audio(video_id, [url], tmp_path, ["en"]), range(2)))
    assert done[0].path == done[1].path and done[0].sha256 == done[1].sha256
    assert [c.path.name for c in done[0].captions] == [c.path.name for c in done[1].captions]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([done[0].path.name, *(c.path.name for c in done[0].captions)])
