"""pyannote.audio 4 speaker diarization as a Dagster resource.

Audio goes in as an in-memory {"waveform", "sample_rate"} dict: it skips torchcodec and
was 2.6x faster than handing pyannote a path. pyannote's usage telemetry is switched off
for the whole process, and HF_TOKEN is used only to download from the hub.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import dagster as dg
import numpy as np

from resources.models.device import Device
from resources.models.errors import ModelConfigError, scrub
from resources.models.session import (
    ModelSession,
    settings_with,
    start_session,
    step_logger,
)
from ytingest.core.diarization_windows import (
    is_silent,
    join_at_boundary,
    link_speakers,
    read_windows,
)

if TYPE_CHECKING:
    from pyannote.audio import Pipeline
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
    from pyannote.core import Annotation

# Read by pyannote at every tracked call; set before pyannote is imported anywhere in this process.
os.environ["PYANNOTE_METRICS_ENABLED"] = "false"

SAMPLE_RATE = 16_000
DEFAULT_BATCH_SIZE = 32  # speaker-diarization-community-1's own segmentation and embedding batch


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Diarization:
    turns: list[SpeakerTurn]  # overlapping speech gives overlapping turns
    exclusive_turns: list[SpeakerTurn]  # one speaker at a time, for aligning with a transcript
    speakers: list[str]
    # One vector per speaker; speakers whose embedding came back NaN (degenerate audio) are left out.
    speaker_embeddings: dict[str, np.ndarray]


def _turns(annotation: Annotation) -> list[SpeakerTurn]:
    return [
        SpeakerTurn(start=float(segment.start), end=float(segment.end), speaker=str(label))
        for segment, _, label in annotation.itertracks(yield_label=True)
    ]


def _waveform(audio: str | Path | np.ndarray) -> np.ndarray:
    """(channel=1, time) float32 at 16 kHz, from a 16 kHz file or samples."""
    if isinstance(audio, np.ndarray):
        samples = audio.astype(np.float32, copy=False)
    else:
        import soundfile

        # A mono file (what the audio step writes) reads straight into one 1-D array: no second copy.
        samples, rate = soundfile.read(str(audio), dtype="float32")
        if rate != SAMPLE_RATE:
            raise ValueError(f"{audio}: {rate} Hz audio; diarization takes {SAMPLE_RATE} Hz")
        if samples.ndim == 2:
            samples = samples.mean(axis=1, dtype=np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError(f"diarization takes non-empty mono samples, got shape {samples.shape}")
    return samples[None, :]


class DiarizationSession(ModelSession["Pipeline"]):
    kind = "diarization"
    # The pipeline and model classes import scikit-learn, scipy and asteroid on first load.
    modules = (
        "pyannote.audio",
        "pyannote.audio.pipelines.speaker_diarization",
        "pyannote.audio.models.segmentation",
        "pyannote.audio.models.embedding",
    )

    def _load(self, device: Device) -> Pipeline:
        import torch
        from pyannote.audio import Pipeline
        from pyannote.audio.telemetry.metrics import set_telemetry_metrics

        set_telemetry_metrics(False)
        if self.source.path is not None:
            pipeline = Pipeline.from_pretrained(self.source.path)
        else:
            token = self.settings.hf_token.get_secret_value() if self.settings.hf_token else None
            try:
                pipeline = Pipeline.from_pretrained(str(self.source.hub_id), token=token)
            except Exception as exc:
                raise ModelConfigError(
                    f"DIARIZATION_MODEL: cannot download {self.source.hub_id}: {scrub(str(exc), token)}"
                ) from None
        if pipeline is None:
            raise ModelConfigError(
                f"DIARIZATION_MODEL: {self.source.label} did not load; for the hub, set HF_TOKEN and accept the "
                f"model's conditions on huggingface.co/{self.source.hub_id}"
            )
        return pipeline.to(torch.device(device))

    def diarize(
        self,
        audio: str | Path | np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        window_seconds: float | None = None,
    ) -> Diarization:
        """Who spoke when, in a 16 kHz file or mono float32 samples at 16 kHz. A file longer than
        `window_seconds` is read and diarized a window at a time, its speakers linked across windows, so
        memory stays that of one window whatever the length (speaker counts then apply per window)."""
        options = {"num_speakers": num_speakers, "min_speakers": min_speakers, "max_speakers": max_speakers}
        if isinstance(audio, np.ndarray) or not window_seconds:
            return self._diarize_samples(_waveform(audio), **options)
        import soundfile

        if soundfile.info(str(audio)).duration <= window_seconds:
            return self._diarize_samples(_waveform(audio), **options)
        parts: list[tuple[float, float, Diarization]] = []
        windows = 0
        for window in read_windows(Path(audio), window_seconds, SAMPLE_RATE):
            windows += 1
            if not is_silent(window.samples):
                diarized = self._diarize_samples(window.samples[None, :], **options)
                parts.append((window.start, window.samples.size / SAMPLE_RATE, diarized))
        name = Path(audio).name
        self.log.info("diarization: %s read in %d windows of at most %g s, %d with sound", name, windows, window_seconds, len(parts))
        return _joined(parts)

    def _diarize_samples(self, samples: np.ndarray, **options: int | None) -> Diarization:
        import torch

        waveform = torch.from_numpy(samples)

        def attempt(pipeline: Pipeline, batch_size: int) -> Diarization:
            pipeline.segmentation_batch_size = batch_size
            pipeline.embedding_batch_size = batch_size
            # The speaker-diarization pipeline returns a DiarizeOutput; Pipeline's signature is wider.
            output = cast("DiarizeOutput", pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, **options))
            speakers = [str(label) for label in output.speaker_diarization.labels()]
            embeddings: dict[str, np.ndarray] = {}
            if output.speaker_embeddings is not None:
                for speaker, vector in zip(speakers, output.speaker_embeddings, strict=False):
                    if np.isfinite(vector).all():
                        embeddings[speaker] = np.asarray(vector, dtype=np.float32)
            return Diarization(
                turns=_turns(output.speaker_diarization),
                exclusive_turns=_turns(output.exclusive_speaker_diarization),
                speakers=speakers,
                speaker_embeddings=embeddings,
            )

        return self.infer(attempt)


def _joined(parts: list[tuple[float, float, Diarization]]) -> Diarization:
    """Windows' diarizations (start, length, result) as one: global speaker labels, the file's times,
    boundary-cut turns rejoined."""
    links = link_speakers([{s: part.speaker_embeddings.get(s) for s in part.speakers} for _, _, part in parts])
    turns: list[tuple[float, float, str]] = []
    exclusive: list[tuple[float, float, str]] = []
    vectors: dict[str, list[np.ndarray]] = {}
    for (offset, length, part), link in zip(parts, links, strict=True):
        turns = join_at_boundary(turns, _in_file(part.turns, offset, length, link), offset)
        exclusive = join_at_boundary(exclusive, _in_file(part.exclusive_turns, offset, length, link), offset)
        for speaker, vector in part.speaker_embeddings.items():
            vectors.setdefault(_label(link[speaker]), []).append(vector)
    return Diarization(
        turns=[SpeakerTurn(*t) for t in turns],
        exclusive_turns=[SpeakerTurn(*t) for t in exclusive],
        speakers=sorted({_label(n) for link in links for n in link.values()}),
        speaker_embeddings={s: np.mean(found, axis=0).astype(np.float32) for s, found in vectors.items()},
    )


def _in_file(turns: list[SpeakerTurn], offset: float, length: float, link: dict[str, int]) -> list[tuple[float, float, str]]:
    # pyannote pads a window shorter than its 10 s chunk, and its turns may run into the padding.
    kept = [(t.start, min(t.end, length), t.speaker) for t in turns if t.start < length]
    return [(start + offset, end + offset, _label(link[who])) for start, end, who in kept]


def _label(speaker: int) -> str:
    return f"SPEAKER_{speaker:02d}"  # pyannote's own label format


class DiarizationResource(dg.ConfigurableResource):
    """pyannote speaker diarization. `model`/`device` None come from DIARIZATION_MODEL/DIARIZATION_DEVICE;
    `batch_size` is the segmentation and embedding batch, halved on out-of-memory."""

    model: str | None = None
    device: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE

    @contextlib.contextmanager
    def session(self, context: Any | None = None) -> Iterator[DiarizationSession]:
        settings = settings_with(diarization_model=self.model, diarization_device=self.device)
        session = start_session(context, lambda: DiarizationSession(settings, step_logger(context), self.batch_size))
        try:
            yield session
        finally:
            session.close()
