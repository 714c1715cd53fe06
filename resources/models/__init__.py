"""The speech and text models as Dagster resources that cannot run the GPU out of memory.

Each resource opens a session inside a step; the model loads on first use, runs under the
out-of-memory ladder, and is released when the block ends:

    with whisper.session(context) as asr:
        transcript = asr.transcribe(audio_path, language="en")
    return dg.MaterializeResult(metadata=asr.metadata())
"""

from resources.models.device import ModelPlan, choose_profile, resolve_plan
from resources.models.diarization import (
    Diarization,
    DiarizationResource,
    DiarizationSession,
    SpeakerTurn,
)
from resources.models.errors import ModelConfigError, ModelError, ModelOutOfMemory
from resources.models.text_encoder import TextEncoderResource, TextEncoderSession
from resources.models.voice import VoiceEncoderResource, VoiceSession
from resources.models.whisper import Transcript, WhisperResource, WhisperSession

# For the multiprocess executor's forkserver `preload_modules`: imported once, inherited by every step.
PRELOAD_MODULES: tuple[str, ...] = tuple(
    dict.fromkeys(
        module
        for session in (WhisperSession, DiarizationSession, VoiceSession, TextEncoderSession)
        for module in session.modules
    )
)

__all__ = [
    "PRELOAD_MODULES",
    "Diarization",
    "DiarizationResource",
    "DiarizationSession",
    "ModelConfigError",
    "ModelError",
    "ModelOutOfMemory",
    "ModelPlan",
    "SpeakerTurn",
    "TextEncoderResource",
    "TextEncoderSession",
    "Transcript",
    "VoiceEncoderResource",
    "VoiceSession",
    "WhisperResource",
    "WhisperSession",
    "choose_profile",
    "resolve_plan",
]
