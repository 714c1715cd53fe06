"""`ytingest demo` (`make demo`): a generated sample channel, served on loopback, ingested offline
through the project's Dagster instance with the embedded defaults."""

from __future__ import annotations

import time
from pathlib import Path

from ingest_assets.cli import register_channel
from resources.settings import get_settings

DEMO_CHANNEL = "sample"


def run_demo(work_dir: Path | None, port: int) -> int:
    from dagster import DagsterInstance

    from ingest_assets.runs import run_channel_dates
    from resources.instance import ensure_instance
    from resources.loopback_server import LoopbackChannel
    from resources.postgres import ready_url
    from resources.sample_channel import default_episodes, generate_channel

    settings = get_settings()
    work_dir = work_dir or settings.data_dir / "demo"
    print("ytingest demo: a generated sample channel served on 127.0.0.1, no internet needed")
    print("  stages: video listing and 16 kHz audio with captions (later stages arrive with the model resources)")
    started = time.monotonic()
    channel = generate_channel(work_dir / "channel", default_episodes())
    print(f"  generated {len(channel.episodes)} episodes in {time.monotonic() - started:.1f}s")
    ready_url(settings)
    ensure_instance(settings)
    with LoopbackChannel(channel, port=port) as site:
        register_channel(site.rss_url, key=DEMO_CHANNEL, origin="demo")
        dates = sorted(e.published.date() for e in channel.episodes)
        print(f"  ingesting {DEMO_CHANNEL} from {site.rss_url}, {dates[0]} .. {dates[-1]} (one Dagster run)")
        with DagsterInstance.get() as instance:
            outcome = run_channel_dates(instance, DEMO_CHANNEL, dates[0], dates[-1], tags={"ytingest/origin": "demo"})
    print_report(DEMO_CHANNEL, dates)
    print(f"  run {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'} in {time.monotonic() - started:.0f}s")
    print("  see it in the Dagster UI: `make dev` (or `ytingest dev`), then open http://127.0.0.1:3000/runs")
    return 0 if outcome.success else 1


def print_report(channel_key: str, dates) -> None:
    from resources import catalog
    from resources.postgres import PostgresResource

    with PostgresResource().connect() as conn:
        videos = catalog.videos_in_partition(conn, channel_key, dates)
        steps = catalog.step_statuses(conn, "audio", [v.video_id for v in videos])
        details = {
            video_id: f"{seconds:.1f} s of audio, {captions} caption file(s)"
            for video_id, seconds, captions in conn.execute(
                "SELECT a.video_id, a.duration_seconds,"
                " (SELECT count(*) FROM captions c WHERE c.video_id = a.video_id)"
                " FROM audio a WHERE a.video_id = ANY(%s)",
                ([v.video_id for v in videos],),
            )
        }
    for video in videos:
        status, reason = steps.get(video.video_id, ("not run", None))
        print(f"    {video.published_date}  {video.title[:40]:40}  {status:9}  {reason or details.get(video.video_id, '')}")
