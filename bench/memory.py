"""RSS of each GPU-bound step's process across many videos in one partition, sampled from outside
(bench/processes.py) right after each video's status row lands: the first video's model load is
behind it, so growth from video 10 to the last is what the process keeps per video."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import psycopg

from bench.channel import short_channel
from bench.environment import reset_archive
from bench.processes import Sample, StepSampler
from bench.report import Report, Row

GPU_ASSETS = ("transcripts", "diarization", "voice_embeddings", "text_embeddings")
SECONDS_PER_VIDEO = 3.0
GROWTH_TARGET = 1.05


def sizes(quick: bool) -> tuple[int, int]:
    """(videos, the video whose RSS is the reference)."""
    return (12, 4) if quick else (50, 10)


class VideoRss:
    """On each sampler tick, the step process's RSS for every video newly finished by a GPU asset."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True)
        self.done: dict[str, int] = defaultdict(int)
        self.after_video: dict[str, list[float]] = defaultdict(list)

    def tick(self, samples: list[Sample]) -> None:
        if not samples:
            return
        rss = max(s.rss_mb for s in samples)  # one GPU step runs at a time (pool `gpu`), plus nothing else here
        counts = dict(self.conn.execute(
            "SELECT asset, count(*) FROM video_steps WHERE asset = ANY(%s) AND status IN ('succeeded', 'failed') GROUP BY asset",
            (list(GPU_ASSETS),),
        ).fetchall())  # fmt: skip
        for asset, count in counts.items():
            self.after_video[asset].extend([rss] * (count - self.done[asset]))
            self.done[asset] = count

    def close(self) -> None:
        self.conn.close()


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.app.ingest import run_ingest
    from ytingest.offline.loopback_server import LoopbackChannel

    videos, reference = sizes(quick)
    channel = short_channel(work / "memory-channel", videos, SECONDS_PER_VIDEO)
    reset_archive(url)
    tracker = VideoRss(url)
    sampler = StepSampler(on_tick=tracker.tick)
    with LoopbackChannel(channel) as site:
        sampler.start()
        try:
            ingest = run_ingest([site.rss_url], limit=None, since=None, until=None, as_json=True)
        finally:
            sampler.stop()
            tracker.close()
    for asset in GPU_ASSETS:
        series = tracker.after_video.get(asset, [])
        if len(series) < videos:
            report.notes.append(f"memory: {asset} sampled after {len(series)} of {videos} videos (a video finished between samples)")
        if len(series) < reference:
            continue
        report.add(
            Row("memory", f"{asset} step RSS after video {len(series)}", series[-1], "MB", series[reference - 1],
                GROWTH_TARGET, "<=",
                f"{videos} ~{SECONDS_PER_VIDEO:.0f} s videos (half captioned) in one partition; RSS of the step's process "
                f"(psutil, outside) after the last video vs after video {reference}; target: growth <= 5%")
        )  # fmt: skip
    report.details["memory"] = {
        "videos": videos, "succeeded": ingest.videos_succeeded,
        "rss_mb_after_each_video": {a: [round(x, 1) for x in s] for a, s in tracker.after_video.items()},
    }  # fmt: skip
