"""The speaker registry's matching and centroid arithmetic, on synthetic vectors."""

import numpy as np

from ytingest.core.registry import centroid, match_voices, unit


def _toward(base: np.ndarray, other: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at exactly `cosine` to the unit vector `base`, in the plane of `other`."""
    ortho = unit(other - (other @ base) * base)
    return cosine * base + np.sqrt(1 - cosine**2) * ortho


AXES = np.eye(4)


def test_two_voices_of_one_video_never_join_the_same_speaker():
    a = AXES[0]
    voices = np.array([_toward(a, AXES[1], 0.95), _toward(a, AXES[2], 0.90)])
    assert match_voices(voices, np.array([a]), threshold=0.7) == [0, None]


def test_the_assignment_is_optimal_not_greedy():
    a, b = AXES[0], _toward(AXES[0], AXES[1], 0.8)  # two known speakers, similar to each other
    first = unit(a + b)  # close to both
    second = _toward(a, AXES[2], 0.9)  # close to a only
    voices = np.array([first, second])
    similarity = voices @ np.array([a, b]).T
    assert similarity[0].argmax() == 0  # greedy, first voice first, would take a and leave second alone
    assert match_voices(voices, np.array([a, b]), threshold=0.7) == [1, 0]


def test_below_the_threshold_or_nobody_known_is_a_new_speaker():
    voices = np.array([AXES[0], AXES[1]])
    assert match_voices(voices, np.array([AXES[2]]), threshold=0.5) == [None, None]
    assert match_voices(voices, np.empty((0, 4)), threshold=0.5) == [None, None]
    assert match_voices(np.empty((0, 4)), np.array([AXES[0]]), threshold=0.5) == []


def test_the_match_does_not_depend_on_the_order_of_the_voices():
    rng = np.random.default_rng(7)
    known = np.array([unit(v) for v in rng.normal(size=(5, 16))])
    voices = np.array([unit(k + rng.normal(scale=0.3, size=16)) for k in known[[3, 1, 4]]])
    forward = match_voices(voices, known, threshold=0.5)
    backward = match_voices(voices[::-1], known, threshold=0.5)[::-1]
    assert forward == backward == [3, 1, 4]


def test_a_voice_taken_out_leaves_the_centroid_of_the_others():
    a, b = unit(np.array([1.0, 0.2, 0, 0])), unit(np.array([0.9, -0.3, 0.1, 0]))
    total = a + b
    np.testing.assert_allclose(centroid(total - b), a)
    assert centroid(total - a - b) is None
