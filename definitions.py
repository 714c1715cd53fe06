"""The Dagster code location: assets, job, sensor and resources of ytingest."""

import dagster as dg

from ingest_assets.audio import audio
from ingest_assets.jobs import ingest_job
from ingest_assets.sensors import new_videos
from ingest_assets.videos import videos
from resources.media import MediaSource
from resources.postgres import PostgresResource

defs = dg.Definitions(
    assets=[videos, audio],
    jobs=[ingest_job],
    sensors=[new_videos],
    resources={"postgres": PostgresResource(), "media": MediaSource()},
)
