"""Videos per minute through the `transcripts` asset with ASR_WORKERS=2 against ASR_WORKERS=1: the same
uncaptioned videos, the same loaded-once Whisper session, measured back to back in one process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import psycopg

from bench.channel import spoken_episode
from bench.environment import reset_archive
from bench.report import Report, Row
from ytingest.offline.sample_channel import Captions, generate_channel

CHANNEL_KEY = "benchasr"
WORKERS = (1, 2)


def sizes(quick: bool) -> tuple[int, float]:
    """(videos, seconds of speech each): every one goes to ASR."""
    return (2, 8.0) if quick else (8, 30.0)


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ingest_assets.partitions import partition_key
    from ytingest.app.channels import register_channel
    from ytingest.offline.loopback_server import LoopbackChannel

    count, seconds = sizes(quick)
    episodes = [spoken_episode(f"asr{n:06d}", seconds, Captions.NONE, seed=2000 + n) for n in range(count)]
    channel = generate_channel(work / "asr-channel", episodes)
    reset_archive(url)
    with LoopbackChannel(channel) as site:
        key, _ = register_channel(site.rss_url, key=CHANNEL_KEY)
        partition = str(partition_key(key, episodes[0].published.date()))
        _materialize({"videos", "audio"}, partition)
    per_minute, load = {}, {}
    for workers in WORKERS:
        _forget_transcripts(url)
        os.environ["ASR_WORKERS"] = str(workers)
        started = time.perf_counter()
        result = _materialize({"transcripts"}, partition)
        wall = time.perf_counter() - started
        metadata = result.asset_materializations_for_node("transcripts")[0].metadata
        done = metadata["videos_done"].value
        if done != count:
            raise RuntimeError(f"ASR_WORKERS={workers}: {done} of {count} videos transcribed")
        load[workers] = float(metadata["whisper/load_seconds"].value)
        per_minute[workers] = count / (wall - load[workers]) * 60
    os.environ.pop("ASR_WORKERS")
    audio_minutes = sum(e.duration for e in channel.episodes) / 60
    report.add(
        Row("asr_workers", "videos per minute, ASR_WORKERS=2", per_minute[2], "videos/min", per_minute[1],
            definition=f"{count} uncaptioned videos ({audio_minutes:.1f} min of espeak-ng speech) through the "
            "`transcripts` asset (in-process run: VAD, loudness, Whisper, writes), model load excluded; "
            "baseline: the same videos with ASR_WORKERS=1; both on one loaded model, on the CPU"),
    )  # fmt: skip
    report.details["asr_workers"] = {
        "videos": count, "audio_minutes": round(audio_minutes, 2), "cpu_cores": os.cpu_count(),
        "videos_per_minute": {str(w): round(v, 3) for w, v in per_minute.items()},
        "load_seconds": {str(w): round(v, 3) for w, v in load.items()},
    }  # fmt: skip


def _materialize(selection: set[str], partition: str) -> dg.ExecuteInProcessResult:
    from definitions import defs

    built = defs()
    assets = [a for a in built.assets if a.key.to_user_string() in selection]
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(assets, partition_key=partition, instance=instance, resources=built.resources)
    if not result.success:
        raise RuntimeError(f"materialising {sorted(selection)} failed")
    return result


def _forget_transcripts(url: str) -> None:
    """Make every video a to-do for the next `transcripts` run."""
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM transcripts")
        conn.execute("DELETE FROM video_steps WHERE asset = 'transcripts'")
