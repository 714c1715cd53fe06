"""The Dagster code location: assets, job, sensor, resources and executor, built from settings when the
code location loads (so importing any module reads no setting)."""

import dagster as dg

from ingest_assets.audio import audio
from ingest_assets.diarization import diarization
from ingest_assets.jobs import build_ingest_job
from ingest_assets.outcomes import outcomes
from ingest_assets.partitions import build_partitions_def, build_per_video_asset
from ingest_assets.sensors import build_new_videos_sensor
from ingest_assets.text_embeddings import text_embeddings
from ingest_assets.transcripts import transcripts
from ingest_assets.videos import videos
from ingest_assets.voice_embeddings import voice_embeddings
from resources.media import MediaSource
from resources.models import (
    PRELOAD_MODULES,
    DiarizationResource,
    TextEncoderResource,
    VoiceEncoderResource,
    WhisperResource,
)
from resources.postgres import PostgresResource
from ytingest.settings import get_settings, make_files_private

PER_VIDEO_ASSETS = (videos, audio, transcripts, diarization, voice_embeddings, text_embeddings, outcomes)

# Every step runs in its own process, so a GPU step's model memory goes back when the process exits.
# Forking from a server that has already imported the heavy libraries keeps that start-up cheap.
# ytingest.forkserver_guard (last, once the heavy imports are done) makes the forkserver and its step
# processes die with the run's launching process.
PRELOADED = ["definitions", *PRELOAD_MODULES, "ytingest.forkserver_guard"]
executor = dg.multiprocess_executor.configured({"start_method": {"forkserver": {"preload_modules": PRELOADED}}})


@dg.definitions
def defs() -> dg.Definitions:
    make_files_private()  # the code server, run workers and steps write audio, captions and logs
    settings = get_settings()
    job = build_ingest_job(build_partitions_def(settings))
    return dg.Definitions(
        assets=[build_per_video_asset(fn, settings) for fn in PER_VIDEO_ASSETS],
        jobs=[job],
        sensors=[build_new_videos_sensor(job, settings)],
        executor=executor,
        resources={
            "postgres": PostgresResource(),
            "media": MediaSource(),
            "whisper": WhisperResource(),
            "diarizer": DiarizationResource(),
            "voice_encoder": VoiceEncoderResource(),
            "text_encoder": TextEncoderResource(),
        },
    )
