"""Long audio diarized a window at a time, with speakers linked across windows.

pyannote holds the whole waveform and clusters every (chunk, speaker) embedding of the file at once, so
its memory grows with the recording: 230 MB of float32 samples an hour, plus a clustering over three
embeddings per second of audio. Reading a fixed-length window at a time bounds both. Each window is
diarized on its own; its speakers are then linked to the speakers of earlier windows by the cosine
similarity of pyannote's per-speaker centroids, and a turn cut by a window boundary is joined again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

# pyannote's speaker centroids (WeSpeaker ResNet34) of one voice in two windows sit well above this;
# two different voices well below. A speaker left unlinked is counted twice, never merged wrongly.
LINK_THRESHOLD: Final = 0.5
# Digital silence (peak under -80 dBFS) cannot hold speech: such a window is read, not diarized.
SILENCE_PEAK: Final = 1e-4
# A turn that ends this close to a window's end and one that starts as close to the next window's start,
# of the same speaker, are one turn cut by the boundary.
BOUNDARY_SLACK_S: Final = 0.1


@dataclass(frozen=True)
class Window:
    start: float  # seconds from the start of the file
    samples: np.ndarray  # (time,) float32


def read_windows(path: Path, window_seconds: float, sample_rate: int) -> Iterator[Window]:
    """The file in windows of equal length, none longer than `window_seconds`, one in memory at a time."""
    import soundfile

    with soundfile.SoundFile(str(path)) as audio:
        if audio.samplerate != sample_rate:
            raise ValueError(f"{path.name}: {audio.samplerate} Hz audio; diarization takes {sample_rate} Hz")
        frames = audio.frames
        count = max(1, math.ceil(frames / (window_seconds * sample_rate)))
        size = math.ceil(frames / count)  # equal windows: no last sliver too short to diarize
        for index in range(count):
            samples = audio.read(size, dtype="float32")
            if samples.ndim == 2:
                samples = samples.mean(axis=1, dtype=np.float32)
            if samples.size:
                yield Window(start=index * size / sample_rate, samples=samples)


def is_silent(samples: np.ndarray) -> bool:
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK


def link_speakers(
    windows: list[dict[str, np.ndarray | None]], threshold: float = LINK_THRESHOLD
) -> list[dict[str, int]]:
    """For each window, its local speaker labels mapped to global speaker numbers (0, 1, ... in order of
    first appearance). Within a window, speakers are distinct by construction, so each global speaker takes
    at most one of them (an optimal assignment on cosine similarity); a local speaker without an
    embedding, or not similar enough to any earlier one, becomes a new global speaker."""
    from scipy.optimize import linear_sum_assignment

    directions: list[np.ndarray | None] = []  # sums of the linked unit vectors; None: nothing to link by
    mapping: list[dict[str, int]] = []
    for window in windows:
        units = {label: _unit(vector) for label, vector in window.items()}
        linkable = [label for label, unit in units.items() if unit is not None]
        known = [i for i, direction in enumerate(directions) if direction is not None]
        found: dict[str, int] = {}
        if linkable and known:
            similarity = np.array(
                [[float(units[label] @ _unit(directions[i])) for i in known] for label in linkable]  # type: ignore[operator]
            )
            for row, col in zip(*linear_sum_assignment(-similarity), strict=True):
                if similarity[row, col] >= threshold:
                    found[linkable[row]] = known[col]
        for label, unit in units.items():  # pyannote's label order: new speakers are numbered as they appear
            if label not in found:
                found[label] = len(directions)
                directions.append(None)
            if unit is not None:
                current = directions[found[label]]
                directions[found[label]] = unit if current is None else current + unit
        mapping.append(found)
    return mapping


def _unit(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None or not np.isfinite(vector).all():
        return None
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


Turn = tuple[float, float, str]


def join_at_boundary(turns: list[Turn], following: list[Turn], boundary: float) -> list[Turn]:
    """`turns` (before `boundary`) then `following` (after it), sorted, with a speaker's turn that the
    boundary cut in two joined back into one."""
    joined = list(turns)
    ending_here = {who: i for i, (_, end, who) in enumerate(joined) if end >= boundary - BOUNDARY_SLACK_S}
    for start, end, speaker in following:
        i = ending_here.pop(speaker, None) if start <= boundary + BOUNDARY_SLACK_S else None
        if i is None:
            joined.append((start, end, speaker))
        else:
            joined[i] = (joined[i][0], max(joined[i][1], end), speaker)
    return sorted(joined)
