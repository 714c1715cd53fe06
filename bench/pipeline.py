"""The whole graph as `ytingest ingest` runs it (on-disk instance, multiprocess executor, one process
per step) against the same work done in one process (bench/baseline.py), on one generated channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from bench.baseline import run_baseline
from bench.channel import mixed_channel
from bench.environment import reset_archive
from bench.processes import StepSampler, peak_by_interval
from bench.report import Report, Row

ASSETS = ("videos", "audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings")
MODEL_KINDS = ("whisper", "diarization", "voice", "text_encoder")
CHANNEL_KEY = "benchpipe"


def durations(quick: bool) -> list[float]:
    """Full: 10 videos of 1-3 minutes (20 minutes of audio; pyannote, even at the smoke dims, takes about
    a quarter of real time on 2 idle CPU cores, and both sides diarize). Quick: 2 of 10-15 s."""
    if quick:
        return [10.0, 15.0]
    return [60.0, 180.0, 90.0, 150.0, 120.0, 60.0, 180.0, 90.0, 150.0, 120.0]


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.app.ingest import run_ingest
    from ytingest.offline.loopback_server import LoopbackChannel

    channel = mixed_channel(work / "pipeline-channel", durations(quick))
    with LoopbackChannel(channel) as site:
        reset_archive(url)
        floor = run_baseline(CHANNEL_KEY, site.rss_url)
        reset_archive(url)
        sampler = StepSampler()
        sampler.start()
        try:
            ingest = run_ingest([site.rss_url], limit=None, since=None, until=None, as_json=True)
        finally:
            sampler.stop()
    _rows(report, ingest, floor, sampler, channel)


def _rows(report: Report, ingest: Any, floor: dict[str, float], sampler: StepSampler, channel: Any) -> None:
    from dagster import DagsterInstance

    from ytingest.app.runs import step_intervals

    with DagsterInstance.get() as instance:
        run_id = ingest.run_ids[0]
        intervals = step_intervals(instance, run_id)
        startup = _startup_seconds(instance, run_id)
        loads = _load_seconds(instance, run_id)
    audio_hours = sum(e.duration for e in channel.episodes) / 3600
    wall = ingest.wall_seconds
    asr = sum(1 for e in channel.episodes if e.spec.captions.value == "none")
    definition = (
        f"{len(channel.episodes)} videos, {audio_hours * 60:.1f} min of espeak-ng speech, {asr} without captions (ASR); "
        "pipeline = `run_ingest` (register, list, one Dagster run, multiprocess executor); baseline = the same "
        "library calls and DB writes in one process, models loaded once (bench/baseline.py)"
    )
    report.add(
        Row("pipeline", "wall time", wall, "s", floor["total"], 1.3, "<=", definition),
        Row("pipeline", "throughput", audio_hours / (wall / 3600), "audio h / wall h",
            audio_hours / (floor["total"] / 3600), definition="audio hours per wall hour"),
        Row("pipeline", "videos succeeded", ingest.videos_succeeded, f"of {ingest.videos_attempted}"),
        Row("pipeline", "step start-up share", sum(startup.values()) / wall, "of wall",
            definition="sum over steps of STEP_WORKER_STARTING -> STEP_START (process fork, imports, resources)"),
        Row("pipeline", "model load share", sum(loads.values()) / wall, "of wall",
            sum(floor.get(f"load/{k}", 0.0) for k in MODEL_KINDS) / floor["total"] if floor else None,
            definition="sum of `<model>/load_seconds` metadata / wall; baseline: same sessions' load time / its wall"),
    )  # fmt: skip
    peaks = peak_by_interval(sampler.samples, {_asset(k): v for k, v in intervals.items()})
    for key, (start, end) in sorted(intervals.items(), key=lambda item: item[1][0]):
        asset = _asset(key)
        report.add(
            Row("pipeline", f"step {asset}", end - start, "s", floor.get(asset),
                definition=f"STEP_START -> STEP_SUCCESS; start-up before it {startup.get(key, 0):.1f} s; "
                f"peak step RSS {peaks.get(asset, float('nan')):.0f} MB; baseline: the same stage in one process")
        )  # fmt: skip
    report.details["pipeline"] = {
        "baseline_seconds": {k: round(v, 2) for k, v in floor.items()},
        "step_seconds": {_asset(k): round(e - s, 2) for k, (s, e) in intervals.items()},
        "step_startup_seconds": {_asset(k): round(v, 2) for k, v in startup.items()},
        "model_load_seconds": loads,
        "peak_step_rss_mb": peaks,
        "ingest_report": {k: getattr(ingest, k) for k in ("videos_attempted", "videos_succeeded", "failure_reasons",
                                                          "audio_hours", "wall_seconds", "model_load_share")},
        "episodes": [{"video_id": e.video_id, "seconds": e.duration, "captions": e.spec.captions.value} for e in channel.episodes],
    }  # fmt: skip


def _asset(step_key: str) -> str:
    return step_key.split("[")[0].split(".")[-1]


def _startup_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Per step: from the executor asking for a worker process to the step starting in it."""
    asked, started = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_WORKER_STARTING:
            asked.setdefault(event.step_key, record.timestamp)
        elif event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
    return {key: started[key] - asked[key] for key in started if key in asked}


def _load_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    loads: dict[str, float] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        metadata = record.dagster_event.event_specific_data.materialization.metadata
        for kind in MODEL_KINDS:
            value = metadata.get(f"{kind}/load_seconds")
            if value is not None:
                loads[kind] = loads.get(kind, 0.0) + float(value.value)
    return loads
