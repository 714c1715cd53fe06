"""Shared parts of the infrastructure half of the fault matrix (tests/reliability/test_infra_*.py):
runs launched as separate processes through the on-disk instance (as the CLI and test_gpu_pool do),
a table lock that holds a step inside its write transaction so a fault lands mid-write, the pids of
run workers and step processes from the event log, and one archive audit used by every test.

Imported explicitly by the tests (tests/reliability/conftest.py belongs to the input half)."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg

from ytingest.offline.sample_channel import Captions, quick_episode

ROOT = Path(__file__).resolve().parents[2]
PER_VIDEO_ASSETS = ("audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings")

LAUNCH = """
import datetime as dt, sys
from dagster import DagsterInstance
from ytingest.app.runs import run_channel_dates
channel, first, last, tag = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]), sys.argv[4]
with DagsterInstance.get() as instance:
    outcome = run_channel_dates(instance, channel, first, last, tags={"ytingest/test": tag})
print("RUN", outcome.run_id, outcome.success)
sys.exit(0 if outcome.success else 1)
"""


def captioned_episodes(prefix: str, day: dt.date, count: int):
    """Identical two-voice episodes with manual captions: same content, so every video's row counts
    must come out identical, and captions keep ASR (random smoke weights) out of the counts."""
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return [quick_episode(f"{prefix}{n:03d}", published=at, captions=Captions.MANUAL) for n in range(count)]


def launch(channel: str, first: dt.date, last: dt.date, tag: str, env: dict[str, str]) -> subprocess.Popen:
    """A run of the whole graph in its own process (and process group), like `ytingest ingest` starts one."""
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, channel, first.isoformat(), last.isoformat(), tag],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def wait_for(what: str, probe: Callable[[], object], timeout: float = 180, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")


@contextlib.contextmanager
def table_locked(url: str, table: str) -> Iterator[psycopg.Connection]:
    """Hold ACCESS EXCLUSIVE on `table` until the block ends: a step that writes it waits there, inside
    its open transaction, with the rows it wrote before that statement uncommitted."""
    with psycopg.connect(url) as conn:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield conn
        conn.rollback()


def lock_waiters(url: str, table: str) -> list[int]:
    """Backend pids of the app database waiting for a lock on `table`."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE NOT l.granted AND l.relation = %s::regclass AND a.datname = current_database()",
            (table,),
        ).fetchall()
    return [row[0] for row in rows]


def run_id_by_tag(instance: dg.DagsterInstance, tag: str) -> str | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"ytingest/test": tag}))
    return runs[0].run_id if runs else None


def step_worker_pid(instance: dg.DagsterInstance, run_id: str, step_key: str) -> int | None:
    """The pid of the process running `step_key` (the multiprocess executor logs it when the step starts)."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED):
        event = record.dagster_event
        if event is not None and event.step_key == step_key:
            return int(event.event_specific_data.metadata["pid"].value)
    return None


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid, from the multiprocess executor's start event."""
    import re

    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        found = re.search(r"multiprocess executor: parent process \(pid: (\d+)\)", record.message or "")
        if found:
            return int(found.group(1))
    return None


# --- the audit ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoRows:
    """A video's row counts across the app tables; equal content gives equal counts."""

    audio: int
    captions: int
    transcripts: int
    segments: int
    diarizations: int
    turns: int
    voices: int
    chunks: int
    steps: int


_COUNTS = """
SELECT v.video_id,
  (SELECT count(*) FROM audio WHERE video_id = v.video_id),
  (SELECT count(*) FROM captions WHERE video_id = v.video_id),
  (SELECT count(*) FROM transcripts WHERE video_id = v.video_id),
  (SELECT count(*) FROM transcript_segments WHERE video_id = v.video_id),
  (SELECT count(*) FROM diarizations WHERE video_id = v.video_id),
  (SELECT count(*) FROM speaker_turns WHERE video_id = v.video_id),
  (SELECT count(*) FROM voice_embeddings WHERE video_id = v.video_id),
  (SELECT count(*) FROM chunks WHERE video_id = v.video_id),
  (SELECT count(*) FROM video_steps WHERE video_id = v.video_id)
FROM videos v ORDER BY v.video_id
"""


def audit_archive(url: str, audio_dir: Path, expected_videos: int) -> dict[str, VideoRows]:
    """Everything ended `succeeded` exactly once per video and asset, nothing is partial or duplicated,
    and the files on disk are exactly the ones the database names. Returns each video's row counts."""
    import hashlib

    with psycopg.connect(url) as conn:
        counts = {row[0]: VideoRows(*row[1:]) for row in conn.execute(_COUNTS).fetchall()}
        assert len(counts) == expected_videos, counts
        steps = conn.execute("SELECT video_id, asset, status, reason, version FROM video_steps").fetchall()
        assert sorted({s[1] for s in steps}) == sorted(PER_VIDEO_ASSETS), steps
        # Every step records the version (model and settings) it ran with.
        bad = [s for s in steps if s[2] != "succeeded" or s[3] is not None or not s[4]]
        assert bad == [], bad
        for video_id, rows in counts.items():
            assert rows.steps == len(PER_VIDEO_ASSETS), (video_id, rows)
            assert rows.audio == rows.transcripts == rows.diarizations == 1, (video_id, rows)
            assert rows.segments > 0 and rows.chunks > 0 and rows.captions > 0, (video_id, rows)
        # Indexes run 0..n-1 with no gaps or repeats: nothing half-written, nothing appended twice.
        gaps = conn.execute(
            "SELECT 'segments', video_id FROM transcript_segments GROUP BY video_id HAVING max(idx) + 1 <> count(*)"
            " UNION ALL SELECT 'turns', video_id FROM speaker_turns GROUP BY video_id, exclusive"
            "   HAVING max(idx) + 1 <> count(*)"
            " UNION ALL SELECT 'chunks', video_id FROM chunks GROUP BY video_id, model HAVING max(idx) + 1 <> count(*)"
        ).fetchall()
        assert gaps == [], gaps
        # Every derived row belongs to the current outcome: a voice print per diarized speaker at most,
        # each linked to a global speaker; chunks only of the one model in use, each with a vector.
        over = conn.execute(
            "SELECT v.video_id FROM voice_embeddings v JOIN diarizations d USING (video_id)"
            " GROUP BY v.video_id, d.speakers HAVING count(*) > d.speakers"
        ).fetchall()
        assert over == [], over
        assert conn.execute("SELECT count(*) FROM voice_embeddings WHERE speaker_id IS NULL").fetchone() == (0,)
        assert conn.execute("SELECT count(DISTINCT model) FROM chunks").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone() == (0,)
        audio = conn.execute("SELECT video_id, path, sha256 FROM audio").fetchall()
        caption_paths = {Path(r[0]).name for r in conn.execute("SELECT path FROM captions").fetchall()}
    for video_id, path, sha in audio:
        file = Path(path) if Path(path).is_absolute() else audio_dir / Path(path).name
        assert file.exists(), file
        assert hashlib.sha256(file.read_bytes()).hexdigest() == sha, file
    on_disk = {p.name for p in audio_dir.iterdir()}
    expected = {Path(r[1]).name for r in audio} | caption_paths
    assert on_disk == expected, f"not in the database: {on_disk - expected}; missing: {expected - on_disk}"
    return counts


def assert_identical_counts(counts: dict[str, VideoRows]) -> None:
    """Identical episodes must have identical rows: a duplicate or a half-written video stands out."""
    assert len(set(counts.values())) == 1, counts
