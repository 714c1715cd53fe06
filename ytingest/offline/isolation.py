"""A throwaway world for a process that must never touch a user's archive: the tests, the bench and
the GPU soak each run against their own DATA_DIR, DAGSTER_HOME and channels file, offline."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# A user's server, model directory and credentials: never inherited by a throwaway world.
EXTERNAL = ("DATABASE_URL", "MODELS_DIR", "HF_TOKEN", "YTDLP_COOKIES_FILE")


def isolated_environment(root: Path, base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """`base` (default: this process's environment) without EXTERNAL, with everything ytingest writes
    under `root`, the model hub and telemetry off, then `overrides` (VARIABLE=value)."""
    env = {name: value for name, value in (os.environ if base is None else base).items() if name not in EXTERNAL}
    env.update(
        {
            "DATA_DIR": str(root / "data"),
            "DAGSTER_HOME": str(root / "dagster_home"),
            "CHANNELS_FILE": str(root / "channels.yaml"),
            "PARTITION_START_DATE": "2020-01-01",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            **overrides,
        }
    )
    return env


def isolate(root: Path, **overrides: str) -> None:
    """Make this process's environment `isolated_environment(root, **overrides)`."""
    env = isolated_environment(root, **overrides)
    for name in EXTERNAL:
        os.environ.pop(name, None)
    os.environ.update(env)
