"""The speech and text models as Dagster resources that cannot run the GPU out of memory.

Each resource opens a session inside a step; the model loads on first use, runs under the
out-of-memory ladder, and is released when the block ends:

    with whisper.session(context) as asr:
        transcript = asr.transcribe(audio_path, language="en")
    return dg.MaterializeResult(metadata=asr.metadata())

The names below are imported on first use: a command that only finds a model or catches its errors
(`ytingest search`, `ytingest models`) does not pay for dagster and every model library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

    PRELOAD_MODULES: tuple[str, ...]

_SOURCES = {
    "device": ("ModelPlan", "choose_profile", "resolve_plan"),
    "diarization": ("Diarization", "DiarizationResource", "DiarizationSession", "SpeakerTurn"),
    "errors": ("ModelConfigError", "ModelError", "ModelOutOfMemory"),
    "text_encoder": ("TextEncoderResource", "TextEncoderSession"),
    "voice": ("VoiceEncoderResource", "VoiceSession"),
    "whisper": ("Transcript", "WhisperResource", "WhisperSession"),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = sorted(["PRELOAD_MODULES", *_MODULE_OF])


def _preload_modules() -> tuple[str, ...]:
    """For the multiprocess executor's forkserver `preload_modules`: imported once, inherited by every step."""
    sessions = (__getattr__(name) for name in ("WhisperSession", "DiarizationSession", "VoiceSession", "TextEncoderSession"))
    return tuple(dict.fromkeys(module for session in sessions for module in session.modules))


def __getattr__(name: str) -> Any:
    if name == "PRELOAD_MODULES":
        value: Any = _preload_modules()
    elif name in _MODULE_OF:
        value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
