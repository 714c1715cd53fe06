"""The Dagster code location: assets, job, sensor and resources of ytingest."""

import dagster as dg

from ingest_assets.audio import audio
from ingest_assets.diarization import diarization
from ingest_assets.jobs import ingest_job
from ingest_assets.sensors import new_videos
from ingest_assets.text_embeddings import text_embeddings
from ingest_assets.transcripts import transcripts
from ingest_assets.videos import videos
from ingest_assets.voice_embeddings import voice_embeddings
from resources.media import MediaSource
from resources.models import PRELOAD_MODULES, DiarizationResource, TextEncoderResource, VoiceEncoderResource, WhisperResource
from resources.postgres import PostgresResource

# Every step runs in its own process, so a GPU step's model memory goes back when the process exits.
# Forking from a server that has already imported the heavy libraries keeps that start-up cheap.
executor = dg.multiprocess_executor.configured(
    {
        "start_method": {
            "forkserver": {
                "preload_modules": ["definitions", *PRELOAD_MODULES]
            }
        }
    }
)

defs = dg.Definitions(
    assets=[videos, audio, transcripts, diarization, voice_embeddings, text_embeddings],
    jobs=[ingest_job],
    sensors=[new_videos],
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
