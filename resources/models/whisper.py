"""faster-whisper as a Dagster resource: one loaded model per step, shared by ASR_WORKERS transcriptions.

The seed ran four Whisper workers with a model each; here the `transcripts` asset transcribes ASR_WORKERS
videos at once through ONE session, and ASR_WORKERS is also CTranslate2's `num_workers`, which lets those
concurrent calls run in parallel on the one loaded model: more workers add throughput, not copies of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np

from resources.models.device import Device
from resources.models.errors import ModelConfigError
from resources.models.oom import Logger
from resources.models.session import (
    ModelSession,
    settings_with,
    start_session,
    step_logger,
)
from resources.models.telemetry import MetadataValue
from ytingest.settings import Settings

if TYPE_CHECKING:
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from faster_whisper.transcribe import Segment

Audio = str | Path | np.ndarray  # a file path, or float32 mono samples at 16 kHz

# CTranslate2 names the precision of the weights and the computation; these are always accepted.
_PORTABLE_COMPUTE = frozenset({"default", "auto"})


@dataclass(frozen=True)
class Transcript:
    segments: list[Segment]
    language: str
    language_probability: float
    duration: float
    device: str
    batch_size: int | None  # None for the sequential (unbatched) decoder


@dataclass
class _Whisper:
    model: WhisperModel
    pipeline: BatchedInferencePipeline


def compute_for(compute: str, device: Device) -> str:
    """`compute` if CTranslate2 can run it on `device`; the CPU fallback swaps a GPU-only type for int8."""
    import ctranslate2

    if compute in _PORTABLE_COMPUTE or compute in ctranslate2.get_supported_compute_types(device):
        return compute
    return "int8"


def check_compute(compute: str, device: Device) -> None:
    import ctranslate2

    supported = ctranslate2.get_supported_compute_types(device)
    if compute not in _PORTABLE_COMPUTE and compute not in supported:
        accepted = sorted(supported | _PORTABLE_COMPUTE)
        raise ModelConfigError(f"WHISPER_COMPUTE={compute} does not run on {device} here; use one of {accepted}")


class WhisperSession(ModelSession[_Whisper]):
    kind = "whisper"
    modules = ("faster_whisper",)

    def __init__(self, settings: Settings, log: Logger, batch_size: int):
        super().__init__(settings, log, batch_size)
        assert self.plan.compute is not None
        check_compute(self.plan.compute, self.plan.device)
        self.compute_type = self.plan.compute  # the CPU fallback may have to change it
        self.workers = settings.asr_workers

    def _load(self, device: Device) -> _Whisper:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        assert self.plan.compute is not None
        self.compute_type = compute_for(self.plan.compute, device)
        model = WhisperModel(
            str(self.source.path) if self.source.path is not None else str(self.source.hub_id),
            device=device,
            compute_type=self.compute_type,
            num_workers=self.workers,
            local_files_only=self.source.path is not None,
        )
        return _Whisper(model=model, pipeline=BatchedInferencePipeline(model))

    def metadata(self) -> dict[str, MetadataValue]:
        return {**super().metadata(), "whisper/compute_type": self.compute_type}

    def transcribe(self, audio: Audio, *, batched: bool = True, **options: Any) -> Transcript:
        """Transcribe one file or waveform; `options` go to faster-whisper's `transcribe` (language, vad_filter, ...).

        `batched` uses the batched pipeline at the session's batch size (halved on out-of-memory);
        `batched=False` uses the sequential decoder, which conditions on the previous text.
        Raises ModelOutOfMemory when even the last rung of the ladder runs out of memory.
        """
        source = str(audio) if isinstance(audio, Path) else audio

        def attempt(whisper: _Whisper, batch_size: int) -> Transcript:
            if batched:
                segments, info = whisper.pipeline.transcribe(source, batch_size=batch_size, **options)
            else:
                segments, info = whisper.model.transcribe(source, **options)
            # Decoding happens while the generator is consumed, so out-of-memory surfaces here.
            return Transcript(
                segments=list(segments),
                language=info.language,
                language_probability=info.language_probability,
                duration=info.duration,
                device=self.device,
                batch_size=batch_size if batched else None,
            )

        return self.infer(attempt, batched=batched)


class WhisperResource(dg.ConfigurableResource):
    """faster-whisper. Fields left None come from WHISPER_MODEL, WHISPER_COMPUTE, WHISPER_DEVICE, ASR_WORKERS
    and WHISPER_BATCH_SIZE (and MODEL_PROFILE)."""

    model: str | None = None
    compute_type: str | None = None
    device: str | None = None
    workers: int | None = None
    batch_size: int | None = None

    @contextlib.contextmanager
    def session(self, context: Any | None = None) -> Iterator[WhisperSession]:
        settings = settings_with(
            whisper_model=self.model,
            whisper_compute=self.compute_type,
            whisper_device=self.device,
            asr_workers=self.workers,
            whisper_batch_size=self.batch_size,
        )
        session = start_session(
            context, lambda: WhisperSession(settings, step_logger(context), settings.whisper_batch_size)
        )
        try:
            yield session
        finally:
            session.close()
