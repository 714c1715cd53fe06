"""A throwaway world for the bench, as tests/conftest.py builds one: its own DATA_DIR, DAGSTER_HOME and
embedded Postgres, offline, so a user's archive is never touched. `isolate` must run before any
project module is imported, because settings and partitions are read at import."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

APP_TABLES = (
    "video_steps", "captions", "audio", "channel_videos", "videos", "channels",
    "speakers", "embedding_models", "ingest_reports",
)  # fmt: skip


def isolate(root: Path | None = None) -> Path:
    from ytingest.offline.isolation import isolate as isolate_process

    root = root or Path(tempfile.mkdtemp(prefix="ytingest-bench-"))
    isolate_process(root, SUCCESS_THRESHOLD="0")
    return root


def use_smoke_models(models_dir: Path, size: str = "tiny") -> dict[str, str]:
    """Build (or reuse) the offline set (tiny: real Whisper tiny.en and MiniLM, smoke pyannote and ECAPA;
    real: random weights at the production dimensions) and point the model variables at it, as a user would."""
    from ytingest.offline.smoke_models import build_offline_models, build_smoke_models

    smoke = build_offline_models(models_dir) if size == "tiny" else build_smoke_models(models_dir, size=size)
    env = {**smoke.variables(), "MODEL_PROFILE": "cpu"}
    os.environ.update(env)
    return env


def start_database() -> str:
    from ytingest.app.instance import ensure_instance
    from ytingest.store.database import ready_url

    url = ready_url()
    ensure_instance()
    return url


def reset_archive(url: str) -> None:
    """Empty the archive, the Dagster instance and the audio files between benches."""
    import psycopg
    from dagster import DagsterInstance

    from ingest_assets.partitions import CHANNELS
    from ytingest.app.instance import configure_pools
    from ytingest.settings import get_settings

    with psycopg.connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(APP_TABLES)} CASCADE")
    with DagsterInstance.get() as instance:
        instance.wipe()
        configure_pools(instance, get_settings())  # wipe() drops pool limits too
        for key in instance.get_dynamic_partitions(CHANNELS.name):
            instance.delete_dynamic_partition(CHANNELS.name, key)
    shutil.rmtree(get_settings().audio_dir, ignore_errors=True)


def stop_database(root: Path) -> None:
    from ytingest.store.database import stop_embedded

    stop_embedded()
    shutil.rmtree(root, ignore_errors=True)


def machine_facts() -> dict[str, Any]:
    import dagster
    import psutil
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "started_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu_model(),
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "dagster": dagster.__version__,
        "load_average_at_start": load_average(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load: other work on the machine shows here, and skews every timing."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
