"""The cross-video speaker registry's arithmetic: one video's voices matched to global speakers one to
one, and centroids kept as the exact sum of their member voices so that a re-run can take a video's
old voices out before adding the new ones."""

from __future__ import annotations

import numpy as np


def unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector, dtype=np.float64) / np.linalg.norm(vector)


def match_voices(voices: np.ndarray, centroids: np.ndarray, threshold: float) -> list[int | None]:
    """For each voice (rows of unit vectors), the index of the centroid it joins, or None for a new
    speaker. Two voices of one video never join the same speaker: among the pairs at or above
    `threshold` (cosine), the assignment with the largest total similarity wins (Hungarian method)."""
    # Imported here: scipy.optimize costs 0.7 s, and every reader of the speaker tables (search) imports this module.
    from scipy.optimize import linear_sum_assignment

    if len(voices) == 0 or len(centroids) == 0:
        return [None] * len(voices)
    similarity = np.asarray(voices) @ np.asarray(centroids).T
    eligible = similarity >= threshold
    # Ineligible pairs weigh less than any eligible one, so they are chosen only where nothing else is
    # left, and are dropped below.
    weight = np.where(eligible, similarity - threshold + 1.0, 0.0)
    rows, columns = linear_sum_assignment(weight, maximize=True)
    matched: list[int | None] = [None] * len(voices)
    for row, column in zip(rows, columns, strict=True):
        if eligible[row, column]:
            matched[row] = int(column)
    return matched


def centroid(total: np.ndarray) -> np.ndarray | None:
    """The direction of a sum of unit vectors; None when nothing (or exactly opposing voices) is left."""
    norm = np.linalg.norm(total)
    return total / norm if norm > 1e-9 else None
