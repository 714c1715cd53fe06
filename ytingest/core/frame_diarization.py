"""pyannote's speaker-diarization pipeline with its embeddings pooled from frame features computed once.

pyannote's `SpeakerDiarization` embeds every (chunk, local speaker) pair by running the embedding network
over the whole 10 s chunk: with its default 1 s step that is 3 speakers x 10 overlapping chunks, thirty
passes over each second of audio. For a network that can split into a frame encoder and a pooled head
(`CamPlusPlus.frames` / `.embed`), this pipeline runs the encoder once over consecutive blocks of the
audio and pools each pair's embedding from the frames under its chunk, with the same masks pyannote uses
(overlap excluded when enough clean speech is left). Segmentation, clustering and reconstruction are
pyannote's own.

The clustering is pyannote's agglomerative clustering on cosine distance (the speaker-diarization-3.1
recipe): VBx needs a PLDA trained for the embedding, and there is none for CAM++. pyannote 4 loads a PLDA
whatever the clustering, so an empty one stands in, unused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pyannote.audio.core.plda import PLDA
from pyannote.audio.pipelines.speaker_diarization import SpeakerDiarization
from pyannote.core import SlidingWindowFeature

from ytingest.core.campplus import load_campplus

# speaker-diarization-3.1's clustering: centroid linkage, speakers of at least 12 (chunk, speaker)
# embeddings. A pipeline's config.yaml sets its own threshold (`speaker_models` the one calibrated for CAM++).
CLUSTERING_3_1 = {"method": "centroid", "min_cluster_size": 12, "threshold": 0.7045654963945799}


class FramePooledDiarization(SpeakerDiarization):
    """`SpeakerDiarization` for an embedding model with `frames(fbank)` and `embed(pooled)`; see the module.
    `embedding` may also name 3D-Speaker's released CAM++ state dict (a `.pt` file)."""

    def __init__(
        self,
        segmentation: Any,
        embedding: Any,
        segmentation_step: float = 0.1,
        embedding_exclude_overlap: bool = True,
        embedding_batch_size: int = 32,
        segmentation_batch_size: int = 32,
        block_seconds: float = 10.0,
        **kwargs: Any,
    ):
        if isinstance(embedding, str | Path) and Path(embedding).suffix == ".pt":
            embedding = load_campplus(embedding)
        super().__init__(
            segmentation=segmentation,
            segmentation_step=segmentation_step,
            embedding=embedding,
            embedding_exclude_overlap=embedding_exclude_overlap,
            plda=PLDA.__new__(PLDA),
            clustering="AgglomerativeClustering",
            embedding_batch_size=embedding_batch_size,
            segmentation_batch_size=segmentation_batch_size,
            **kwargs,
        )
        self.block_seconds = block_seconds

    def default_parameters(self) -> dict[str, Any]:
        return {"segmentation": {"min_duration_off": 0.0}, "clustering": dict(CLUSTERING_3_1)}

    def get_embeddings(self, file, binary_segmentations: SlidingWindowFeature, exclude_overlap: bool = False, hook=None):
        """(chunks, local speakers, dimension) embeddings, as `SpeakerDiarization.get_embeddings` returns."""
        model = getattr(self._embedding, "model_", None)
        if not all(hasattr(model, name) for name in ("frames", "embed", "pooling", "compute_fbank")):
            return super().get_embeddings(file, binary_segmentations, exclude_overlap, hook)
        device = self._embedding.device
        chunks = binary_segmentations.sliding_window
        num_chunks, num_frames, num_speakers = binary_segmentations.data.shape
        masks = np.nan_to_num(binary_segmentations.data, nan=0.0).astype(np.float32)
        if exclude_overlap:
            # pyannote's rule: the speaker's non-overlapping frames, unless too few of them are left.
            clean = masks * (masks.sum(axis=2, keepdims=True) < 2)
            min_frames = math.ceil(num_frames * self._embedding.min_num_samples / (chunks.duration * model.audio.sample_rate))
            enough = clean.sum(axis=1, keepdims=True) > min_frames
            masks = np.where(enough, clean, masks)

        waveform, sample_rate = self._audio(file)
        frames, frame_seconds = self._frames(model, waveform, sample_rate, device)
        span = round(chunks.duration / frame_seconds)  # encoder frames under one chunk
        total = frames.shape[-1]
        embeddings = np.empty((num_chunks, num_speakers, model.dimension), dtype=np.float32)
        batch = max(1, self.embedding_batch_size)
        with torch.inference_mode():
            for first in range(0, num_chunks, batch):
                members = range(first, min(first + batch, num_chunks))
                windows = torch.zeros(len(members), frames.shape[0], span, device=device)
                for row, c in enumerate(members):
                    start = round(chunks[c].start / frame_seconds)
                    piece = frames[:, start : min(start + span, total)]
                    windows[row, :, : piece.shape[-1]] = piece
                weights = torch.from_numpy(masks[first : first + len(members)].transpose(0, 2, 1)).to(device)
                pooled = model.pooling(windows, weights=weights)  # (batch, speakers, 2 * channels)
                embeddings[first : first + len(members)] = model.embed(pooled).cpu().numpy()
                if hook is not None:
                    hook("embeddings", None, total=math.ceil(num_chunks / batch), completed=first // batch + 1)
        return embeddings

    def _frames(self, model, waveform: torch.Tensor, sample_rate: int, device) -> tuple[torch.Tensor, float]:
        """The encoder's frames over the whole waveform, `block_seconds` of audio at a time (each block its own
        context, as each chunk is for pyannote), and the seconds one frame stands for."""
        block = int(self.block_seconds * sample_rate)
        samples = waveform.shape[-1]
        blocks = max(1, math.ceil(samples / block))
        padded = torch.zeros(blocks * block)
        padded[:samples] = waveform[0]
        parts = []
        with torch.inference_mode():
            for first in range(0, blocks, max(1, self.embedding_batch_size)):
                group = padded[first * block : (first + self.embedding_batch_size) * block].reshape(-1, 1, block)
                encoded = model.frames(model.compute_fbank(group.to(device)))  # (blocks, channels, frames)
                parts.append(encoded.permute(1, 0, 2).reshape(encoded.shape[1], -1))
        frames = torch.cat(parts, dim=-1)
        return frames, self.block_seconds / (frames.shape[-1] / blocks)
