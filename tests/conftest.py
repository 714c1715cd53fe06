"""Every test runs offline against real parts: a throwaway embedded Postgres, an on-disk Dagster
instance in a temporary DAGSTER_HOME, and (through the fixtures modules) a loopback channel and
locally built models."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(tempfile.mkdtemp(prefix="ytingest-tests-"))
# The whole session's settings: a throwaway DATA_DIR and DAGSTER_HOME, nothing from the developer's .env.
for _name in list(os.environ):
    if _name in {"DATABASE_URL", "MODELS_DIR", "HF_TOKEN", "YTDLP_COOKIES_FILE"}:
        del os.environ[_name]
os.environ.update(
    {
        "DATA_DIR": str(_ROOT / "data"),
        "DAGSTER_HOME": str(_ROOT / "dagster_home"),
        "CHANNELS_FILE": str(_ROOT / "channels.yaml"),
        "PARTITION_START_DATE": "2020-01-01",
        "DOWNLOAD_RETRIES": "2",
        "RETRY_BACKOFF_SECONDS": "0.05",
        "SOCKET_TIMEOUT_SECONDS": "3",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
)

pytest_plugins = ["tests.support.fixtures_media", "tests.support.fixtures_models", "tests.support.fixtures_pipeline"]


@pytest.fixture(scope="session")
def database_url():
    from ytingest.store.database import ready_url, stop_embedded

    url = ready_url()
    yield url
    stop_embedded()
    shutil.rmtree(_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def instance(database_url):
    from dagster import DagsterInstance

    from ytingest.app.instance import ensure_instance

    ensure_instance()
    with DagsterInstance.get() as dagster_instance:
        yield dagster_instance


APP_TABLES = (
    "video_steps", "captions", "audio", "channel_videos", "videos", "channels",
    "speakers", "embedding_models", "ingest_reports",
)  # fmt: skip


@pytest.fixture
def archive(database_url, instance):
    """An empty archive and instance: no rows, runs, channels or files from earlier tests."""
    import psycopg

    from ingest_assets.partitions import CHANNELS
    from ytingest.app.instance import configure_pools
    from ytingest.settings import get_settings

    with psycopg.connect(database_url) as conn:
        conn.execute(f"TRUNCATE {', '.join(APP_TABLES)} CASCADE")
    instance.wipe()
    configure_pools(instance, get_settings())  # wipe() drops pool limits too
    for key in instance.get_dynamic_partitions(CHANNELS.name):
        instance.delete_dynamic_partition(CHANNELS.name, key)
    shutil.rmtree(_ROOT / "data" / "audio", ignore_errors=True)
    (_ROOT / "channels.yaml").unlink(missing_ok=True)
    return database_url


@pytest.fixture
def channels_file() -> Path:
    return _ROOT / "channels.yaml"
