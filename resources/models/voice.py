"""The speaker encoder as a Dagster resource: one vector per speech clip.

Two kinds of voice model load: SpeechBrain's ECAPA-TDNN (a folder with `hyperparams.yaml`, or its hub id),
and a pyannote embedding model described by `voice.yaml` (the offline set's CAM++, the model diarization
clusters with), given the clip as one pyannote-style waveform."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np

from resources.models.device import Device
from resources.models.errors import ModelConfigError
from resources.models.session import (
    ModelSession,
    settings_with,
    start_session,
    step_logger,
)
from ytingest.offline.speaker_models import CAMPPLUS_ARCHITECTURE, VOICE_FILE

if TYPE_CHECKING:
    import torch
    from speechbrain.inference.speaker import EncoderClassifier

SAMPLE_RATE = 16_000  # what ECAPA was trained on; SpeechBrain does not resample encode_batch input
DEFAULT_BATCH_SIZE = 16


class VoiceSession(ModelSession["EncoderClassifier | torch.nn.Module"]):
    kind = "voice"
    modules = ("speechbrain.inference.speaker", "ytingest.core.campplus")

    def _load(self, device: Device) -> EncoderClassifier | torch.nn.Module:
        from speechbrain.inference.speaker import EncoderClassifier

        if self.source.path is not None and (self.source.path / VOICE_FILE).is_file():
            return _load_described(self.source.path / VOICE_FILE, device)

        run_opts = {"device": "cuda:0" if device == "cuda" else "cpu"}
        if self.source.path is None:
            savedir = self.settings.data_dir / "speechbrain" / str(self.source.hub_id).replace("/", "--")
            return EncoderClassifier.from_hparams(source=self.source.hub_id, savedir=str(savedir), run_opts=run_opts)
        local = str(self.source.path)
        # Upstream's hyperparams.yaml fetches its checkpoints from `pretrained_path` (the hub);
        # pointing it at the directory keeps a fetched copy offline.
        hparams = (self.source.path / "hyperparams.yaml").read_text()
        overrides = {"pretrained_path": local} if "\npretrained_path:" in f"\n{hparams}" else {}
        return EncoderClassifier.from_hparams(source=local, savedir=local, run_opts=run_opts, overrides=overrides)

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """One speaker embedding per clip of mono float32 samples at 16 kHz, as a (clips, dim) float32 array."""
        import torch
        from speechbrain.inference.speaker import EncoderClassifier

        if not clips:
            raise ValueError("embed takes at least one clip")
        for i, clip in enumerate(clips):
            if clip.ndim != 1 or clip.size == 0:
                raise ValueError(f"clip {i}: expected non-empty mono samples, got shape {clip.shape}")
        # Similar lengths share a batch, so little of each batch is padding.
        order = sorted(range(len(clips)), key=lambda i: clips[i].size)

        def attempt(encoder: EncoderClassifier | torch.nn.Module, batch_size: int) -> np.ndarray:
            if not isinstance(encoder, EncoderClassifier):
                return _embed_each(encoder, clips)
            vectors: list[np.ndarray] = [np.empty(0)] * len(clips)
            for start in range(0, len(order), batch_size):
                members = order[start : start + batch_size]
                longest = max(clips[i].size for i in members)
                batch = torch.zeros(len(members), longest)
                for row, i in enumerate(members):
                    batch[row, : clips[i].size] = torch.from_numpy(clips[i].astype(np.float32, copy=False))
                lengths = torch.tensor([clips[i].size / longest for i in members])
                with torch.inference_mode():
                    out = encoder.encode_batch(batch, wav_lens=lengths).squeeze(1).float().cpu().numpy()
                for row, i in enumerate(members):
                    vectors[i] = out[row]
            return np.stack(vectors)

        return self.infer(attempt)


def _load_described(description: Path, device: Device) -> torch.nn.Module:
    """The pyannote embedding model `voice.yaml` names, with the weights it names."""
    import yaml

    from ytingest.core.campplus import load_campplus

    spec = yaml.safe_load(description.read_text())
    if spec.get("architecture") != CAMPPLUS_ARCHITECTURE:
        raise ModelConfigError(f"VOICE_MODEL: {description}: unknown architecture {spec.get('architecture')!r}")
    weights = description.parent / spec["weights"]
    if not weights.is_file():
        raise ModelConfigError(f"VOICE_MODEL: {description} names weights that are not there ({weights})")
    return load_campplus(weights).to("cuda:0" if device == "cuda" else "cpu")


def _embed_each(model: torch.nn.Module, clips: Sequence[np.ndarray]) -> np.ndarray:
    """One forward pass a clip: a video has a few speakers, and CAM++'s per-input fbank centring would
    count a shorter clip's padding as its speech."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        vectors = [
            model(torch.from_numpy(clip.astype(np.float32, copy=False))[None, None].to(device))[0].float().cpu().numpy()
            for clip in clips
        ]
    return np.stack(vectors)


class VoiceEncoderResource(dg.ConfigurableResource):
    """The speaker encoder (CAM++ offline, SpeechBrain ECAPA from the hub). `model`/`device` None come from
    VOICE_MODEL/VOICE_DEVICE; `batch_size` clips
    per forward pass, halved on out-of-memory."""

    model: str | None = None
    device: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE

    @contextlib.contextmanager
    def session(self, context: Any | None = None) -> Iterator[VoiceSession]:
        settings = settings_with(voice_model=self.model, voice_device=self.device)
        session = start_session(context, lambda: VoiceSession(settings, step_logger(context), self.batch_size))
        try:
            yield session
        finally:
            session.close()
