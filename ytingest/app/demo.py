"""`ytingest demo` (`make demo`): a generated sample channel, served on loopback, ingested offline
through the project's Dagster instance with the embedded defaults."""

from __future__ import annotations

import time
from pathlib import Path

from ytingest.app.channels import register_channel
from ytingest.settings import Settings, get_settings

DEMO_CHANNEL = "sample"
_KINDS = ("whisper", "diarization", "voice", "text_encoder")


def run_demo(work_dir: Path | None, port: int) -> int:
    from ytingest.app.ingest import print_report, run_ingest
    from ytingest.app.searching import format_hits, run_search
    from ytingest.offline.demo_channel import EXAMPLE_SEARCHES, demo_episodes
    from ytingest.offline.loopback_server import LoopbackChannel
    from ytingest.offline.sample_channel import generate_channel

    settings = get_settings()
    work_dir = work_dir or settings.data_dir / "demo"
    print("ytingest demo: a generated sample channel served on 127.0.0.1, no internet needed")
    print(use_demo_models(settings))
    started = time.monotonic()
    channel = generate_channel(work_dir / "channel", demo_episodes())
    minutes = sum(e.duration for e in channel.episodes) / 60
    print(f"  generated {len(channel.episodes)} episodes ({minutes:.1f} min) in {time.monotonic() - started:.1f}s")
    with LoopbackChannel(channel, port=port) as site:
        register_channel(site.rss_url, key=DEMO_CHANNEL, origin="demo")
        print(f"  ingesting channel {DEMO_CHANNEL!r} from {site.rss_url} through the Dagster instance")
        report = run_ingest([site.rss_url], limit=None, since=None, until=None, as_json=False)
    print_report(report)
    for query, _ in EXAMPLE_SEARCHES:
        print(f"\n$ ytingest search {query!r} --limit 3")
        print(format_hits(run_search(query, None, None, None, 3)))
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s")
    print("see the runs, the asset graph and the partitions in the Dagster UI: `make dev`, then http://127.0.0.1:3000")
    print("search it, read transcripts and name speakers in a browser: `make serve`, then http://127.0.0.1:8080")
    return 0 if report.passed else 1


def use_demo_models(settings: Settings) -> str:
    """The models every later command will use too, described: the configured ones when all are on this
    machine, else the offline set built in DATA_DIR/models (MODELS_DIR's default), where `ytingest search`,
    `ytingest dev` and the runs they start find it with no setting."""
    from resources.models.errors import ModelConfigError
    from resources.models.locate import find_model
    from ytingest.offline.smoke_models import build_offline_models

    try:
        found = [find_model(kind, settings) for kind in _KINDS]
        local = all(source.path is not None for _, source in found)
    except ModelConfigError:
        if settings.models_dir is not None:
            raise  # the user's own MODELS_DIR lacks a model: say which, rather than write into it
        local = False
    built = ""
    if not local:
        if settings.models_dir is not None:
            raise ModelConfigError(
                f"MODELS_DIR={settings.models_dir} does not hold every model; run `ytingest models status`, or "
                "unset MODELS_DIR so the demo builds its offline set in DATA_DIR/models"
            )
        build_offline_models(settings.models_root)
        built = f" (offline set built in {settings.models_root}, which later commands read)"
        found = [find_model(kind, settings) for kind in _KINDS]
    lines = [f"  models{built}:"]
    for plan, source in found:
        weights = "real weights" if source.real else "SMOKE BUILD: random weights, its output is noise"
        lines.append(f"    {plan.kind:<13} {plan.name} ({weights})")
    if not all(source.real for _, source in found):
        lines.append("  fetch real models with `ytingest models fetch` (online) and set MODELS_DIR for real speakers")
    return "\n".join(lines)
