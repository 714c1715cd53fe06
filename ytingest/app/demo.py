"""`ytingest demo` (`make demo`): a generated sample channel, served on loopback, ingested offline
through the project's Dagster instance with the embedded defaults."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ytingest.app.channels import register_channel
from ytingest.settings import get_settings

DEMO_CHANNEL = "sample"


EXAMPLE_SEARCHES = ("why does bread dough rise", "when does the river ice break up")


def run_demo(work_dir: Path | None, port: int) -> int:
    from ytingest.app.ingest import print_report, run_ingest
    from ytingest.app.searching import format_hits, run_search
    from ytingest.offline.loopback_server import LoopbackChannel
    from ytingest.offline.sample_channel import default_episodes, generate_channel

    settings = get_settings()
    work_dir = work_dir or settings.data_dir / "demo"
    print("ytingest demo: a generated sample channel served on 127.0.0.1, no internet needed")
    print(f"  models: {use_demo_models(settings)}")
    started = time.monotonic()
    channel = generate_channel(work_dir / "channel", default_episodes())
    print(f"  generated {len(channel.episodes)} episodes in {time.monotonic() - started:.1f}s")
    with LoopbackChannel(channel, port=port) as site:
        register_channel(site.rss_url, key=DEMO_CHANNEL, origin="demo")
        print(f"  ingesting channel {DEMO_CHANNEL!r} from {site.rss_url} through the Dagster instance")
        report = run_ingest([site.rss_url], limit=None, since=None, until=None, as_json=False)
    print_report(report)
    for query in EXAMPLE_SEARCHES:
        print(f"\n$ ytingest search {query!r} --limit 3")
        print(format_hits(run_search(query, None, None, None, 3)))
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s")
    print("see the runs, the asset graph and the partitions in the Dagster UI: `make dev`, then http://127.0.0.1:3000")
    print("search it, read transcripts and name speakers in a browser: `make serve`, then http://127.0.0.1:8080")
    return 0 if report.passed else 1


def use_demo_models(settings) -> str:
    """Real models where MODELS_DIR or the model variables provide them, else smoke models built here.

    The choice goes into the environment, so the run's step processes make the same one.
    """
    from resources.models import (
        DiarizationResource,
        TextEncoderResource,
        VoiceEncoderResource,
        WhisperResource,
    )
    from resources.models.errors import ModelConfigError
    from ytingest.offline.smoke_models import build_smoke_models

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
    os.environ.update(smoke.variables())
    return (
        "SMOKE MODELS: tiny randomly initialised Whisper, pyannote and ECAPA of the real architectures "
        "(their transcripts and speakers are noise) + the real all-MiniLM-L6-v2. "
        "Put real models in MODELS_DIR (`ytingest models fetch`) for real output."
    )

