"""`ytingest demo` (`make demo`): a generated sample channel, served on loopback, ingested offline
through the project's Dagster instance with the embedded defaults."""

from __future__ import annotations

import os
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
    print(f"  models: {use_demo_models(settings)}")
    settings = get_settings()  # re-read: the model variables may have just been set
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


def use_demo_models(settings) -> str:
    """Real models where MODELS_DIR or the model variables provide them, else smoke models built here.

    The choice goes into the environment, so the run's step processes make the same one.
    """
    from resources.models import DiarizationResource, TextEncoderResource, VoiceEncoderResource, WhisperResource
    from resources.models.errors import ModelConfigError
    from resources.smoke_models import build_smoke_models

    try:
        local = []
        for resource in (WhisperResource(), DiarizationResource(), VoiceEncoderResource(), TextEncoderResource()):
            with resource.session() as probe:
                if probe.source.path is None:
                    raise ModelConfigError(f"{probe.plan.name} is not on this machine")
                local.append(f"{probe.kind}={probe.plan.name}")
        return "real models from disk: " + ", ".join(local)
    except ModelConfigError:
        pass
    smoke = build_smoke_models(settings.data_dir / "models" / "smoke")
    os.environ.update(
        {
            "WHISPER_MODEL": str(smoke.whisper),
            "WHISPER_COMPUTE": "int8",
            "WHISPER_TEMPERATURE": "0",
            "DIARIZATION_MODEL": str(smoke.pyannote),
            "VOICE_MODEL": str(smoke.ecapa),
            "EMBEDDING_MODEL": str(smoke.text_encoder),
        }
    )
    return (
        "SMOKE MODELS: tiny randomly initialised Whisper, pyannote and ECAPA of the real architectures "
        "(their transcripts and speakers are noise) + the real all-MiniLM-L6-v2. "
        "Put real models in MODELS_DIR (`ytingest models fetch`) for real output."
    )


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
        step = steps.get(video.video_id)
        status, reason = (step.status, step.reason) if step else ("not run", None)
        print(f"    {video.published_date}  {video.title[:40]:40}  {status:9}  {reason or details.get(video.video_id, '')}")
