"""Two runs launched at once on the on-disk instance with the multiprocess executor: the `gpu` pool
lets one GPU-bound step run at a time across both (read from the event log), the others are free."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import generate_channel, quick_episode

ROOT = Path(__file__).resolve().parents[2]
DAYS = [dt.date(2026, 11, 10), dt.date(2026, 11, 11)]
GPU_ASSETS = {"transcripts", "diarization", "voice_embeddings", "text_embeddings"}
LAUNCH = """
import datetime as dt, sys
from dagster import DagsterInstance
from ytingest.app.runs import run_channel_dates
day = dt.date.fromisoformat(sys.argv[1])
with DagsterInstance.get() as instance:
    outcome = run_channel_dates(instance, "pool", day, day, tags={"ytingest/test": "pool"})
sys.exit(0 if outcome.success else 1)
"""


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        quick_episode(f"poolDay{n:04d}", published=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
        for n, day in enumerate(DAYS)
    ]
    return generate_channel(tmp_path_factory.mktemp("pool"), episodes)


def test_gpu_steps_of_concurrent_runs_never_overlap(archive, instance, channel, smoke_model_settings):
    from ytingest.app.channels import register_channel
    from ytingest.app.runs import overlapping, step_intervals
    from ytingest.settings import get_settings

    assert get_settings().gpu_pool_limit == 1
    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key="pool")
        env = {**os.environ, **smoke_model_settings}
        launches = [
            subprocess.Popen([sys.executable, "-c", LAUNCH, day.isoformat()], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for day in DAYS
        ]  # fmt: skip
        outputs = [p.communicate(timeout=600)[0] for p in launches]
    assert [p.returncode for p in launches] == [0, 0], "\n".join(o[-2000:] for o in outputs)

    runs = instance.get_runs(filters=dg.RunsFilter(tags={"ytingest/test": "pool"}))
    assert len(runs) == 2
    gpu, other = [], []
    for run in runs:
        for step, interval in step_intervals(instance, run.run_id).items():
            (gpu if step in GPU_ASSETS else other).append((interval, run.run_id, step))
    assert len(gpu) == 2 * len(GPU_ASSETS) and len(other) == 2 * 3  # videos, audio and outcomes of each run
    assert overlapping([(interval, f"{step} of {run_id[:8]}") for interval, run_id, step in gpu]) == []
    # The runs really were concurrent: their lifetimes overlap, so the pool (not luck) kept GPU steps apart.
    spans = [(min(i[0] for i, r, _ in gpu + other if r == run.run_id), max(i[1] for i, r, _ in gpu + other if r == run.run_id)) for run in runs]
    assert max(s[0] for s in spans) < min(s[1] for s in spans)
