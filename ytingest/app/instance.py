"""The Dagster instance: DAGSTER_HOME/dagster.yaml written from settings, storage in Postgres.

Written by every `ytingest` command that needs the instance, so it always matches the settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ytingest.settings import Settings, get_settings
from ytingest.store.database import database_urls

GPU_POOL = "gpu"


def instance_config(settings: Settings) -> dict:
    urls = database_urls(settings)
    home = settings.dagster_home
    return {
        "storage": {"postgres": {"postgres_url": urls.dagster}},
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
        "concurrency": {
            "runs": {"max_concurrent_runs": settings.max_concurrent_runs},
            # Pools not set explicitly (and `gpu` is set explicitly too) get this limit.
            "pools": {"default_limit": settings.gpu_pool_limit, "granularity": "op"},
        },
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": 180,
            "cancel_timeout_seconds": 180,
            "poll_interval_seconds": settings.run_monitoring_interval_seconds,
            # A run worker killed mid-step never releases its pool slot itself; the daemon does.
            "free_slots_after_run_end_seconds": settings.free_slots_after_run_end_seconds,
        },
        "local_artifact_storage": {
            "module": "dagster.core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(home / "storage")},
        },
        "compute_logs": {
            "module": "dagster.core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(home / "logs")},
        },
        "telemetry": {"enabled": False},
    }


def ensure_instance(settings: Settings | None = None) -> Path:
    """Write dagster.yaml if it changed, point DAGSTER_HOME at it, set the gpu pool's limit, and upgrade
    the instance's partitions in place when PARTITION_GRAIN changed."""
    settings = settings or get_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(instance_config(settings), sort_keys=False)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != text:
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)  # it may hold a database password
        os.replace(tmp, target)
    os.environ["DAGSTER_HOME"] = str(home)
    from dagster import DagsterInstance

    from ytingest.app.partition_upgrade import upgrade_partitions

    with DagsterInstance.from_config(str(home)) as instance:
        configure_pools(instance, settings)
        upgrade_partitions(instance, settings)
    return home


def configure_pools(instance, settings: Settings) -> None:
    """Set the gpu pool explicitly so the UI shows it even before a GPU step has run."""
    instance.event_log_storage.set_concurrency_slots(GPU_POOL, settings.gpu_pool_limit)
