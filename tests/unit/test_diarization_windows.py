"""Windowed diarization: reading a file a window at a time, linking speakers across windows and rejoining
turns a boundary cut (pure functions), then the smoke pyannote pipeline over a file longer than a window."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from ytingest.core.diarization_windows import (
    SILENCE_PEAK,
    is_silent,
    join_at_boundary,
    link_speakers,
    read_windows,
)

RATE = 16_000
A, B, C = np.eye(3, dtype=np.float32)


def test_one_voice_in_two_windows_is_one_speaker_and_new_voices_are_numbered_as_they_appear() -> None:
    links = link_speakers([{"S0": A, "S1": B}, {"S0": 2 * B + 0.2 * A, "S1": C, "S2": A}])
    assert links == [{"S0": 0, "S1": 1}, {"S0": 1, "S1": 2, "S2": 0}]


def test_two_speakers_of_one_window_never_become_one_even_when_both_resemble_the_same_voice() -> None:
    links = link_speakers([{"S0": A}, {"S0": A + 0.3 * B, "S1": A + 0.1 * C}])
    assert links[1]["S1"] == 0 and links[1]["S0"] == 1  # the closer one takes it, the other is new


def test_below_the_threshold_or_without_an_embedding_a_speaker_is_new() -> None:
    links = link_speakers([{"S0": A}, {"S0": A + B, "S1": None}, {"S0": np.full(3, np.nan)}], threshold=0.8)
    assert links == [{"S0": 0}, {"S0": 1, "S1": 2}, {"S0": 3}]


def test_a_turn_cut_by_the_boundary_is_joined_and_nothing_else_is() -> None:
    before = [(0.0, 4.0, "A"), (5.0, 9.95, "B")]
    after = [(10.02, 12.0, "B"), (12.5, 13.0, "B"), (13.0, 15.0, "A")]
    assert join_at_boundary(before, after, 10.0) == [(0.0, 4.0, "A"), (5.0, 12.0, "B"), (12.5, 13.0, "B"), (13.0, 15.0, "A")]
    # A speaker change at the boundary, or a pause before it, is not a cut turn.
    assert join_at_boundary([(5.0, 9.95, "A")], [(10.0, 11.0, "B")], 10.0) == [(5.0, 9.95, "A"), (10.0, 11.0, "B")]
    assert join_at_boundary([(5.0, 8.0, "A")], [(10.0, 11.0, "A")], 10.0) == [(5.0, 8.0, "A"), (10.0, 11.0, "A")]


def test_windows_are_equal_cover_the_file_once_and_check_the_rate(tmp_path) -> None:
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 25 * RATE).astype(np.float32)
    path = tmp_path / "a.wav"
    soundfile.write(path, samples, RATE, subtype="FLOAT")
    windows = list(read_windows(path, 10.0, RATE))
    assert [w.start for w in windows] == pytest.approx([0.0, 25 / 3, 50 / 3], abs=1e-4)
    assert np.array_equal(np.concatenate([w.samples for w in windows]), samples)
    soundfile.write(tmp_path / "b.wav", samples[:8000], 8000)
    with pytest.raises(ValueError, match="8000 Hz"):
        next(read_windows(tmp_path / "b.wav", 10.0, RATE))


def test_silence_is_digital_silence_only() -> None:
    assert is_silent(np.zeros(100, np.float32)) and is_silent(np.full(5, SILENCE_PEAK / 2, np.float32))
    assert not is_silent(np.full(5, SILENCE_PEAK * 2, np.float32))
