"""SpeechBrain's ECAPA-TDNN speaker encoder as a Dagster resource: one vector per speech clip."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np

from resources.models.device import Device
from resources.models.session import (
    ModelSession,
    settings_with,
    start_session,
    step_logger,
)

if TYPE_CHECKING:
    from speechbrain.inference.speaker import EncoderClassifier

SAMPLE_RATE = 16_000  # what ECAPA was trained on; SpeechBrain does not resample encode_batch input
DEFAULT_BATCH_SIZE = 16


class VoiceSession(ModelSession["EncoderClassifier"]):
    kind = "voice"
    modules = ("speechbrain.inference.speaker",)

    def _load(self, device: Device) -> EncoderClassifier:
        from speechbrain.inference.speaker import EncoderClassifier

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

        if not clips:
            raise ValueError("embed takes at least one clip")
        for i, clip in enumerate(clips):
            if clip.ndim != 1 or clip.size == 0:
                raise ValueError(f"clip {i}: expected non-empty mono samples, got shape {clip.shape}")
        # Similar lengths share a batch, so little of each batch is padding.
        order = sorted(range(len(clips)), key=lambda i: clips[i].size)

        def attempt(encoder: EncoderClassifier, batch_size: int) -> np.ndarray:
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


class VoiceEncoderResource(dg.ConfigurableResource):
    """SpeechBrain ECAPA. `model`/`device` None come from VOICE_MODEL/VOICE_DEVICE; `batch_size` clips
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
