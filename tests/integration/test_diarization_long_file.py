"""Diarization of a file longer than DIARIZATION_WINDOW_MINUTES with the offline set's real pyannote pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from ytingest.core.diarization_windows import (
    read_windows,
)

RATE = 16_000
A, B, C = np.eye(3, dtype=np.float32)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_pyannote_over_a_file_longer_than_a_window(smoke_model_settings, speech_clip, tmp_path) -> None:
    from resources.models import DiarizationResource

    gap = np.zeros(12 * RATE, np.float32)
    audio = np.concatenate([speech_clip.waveform, gap, speech_clip.waveform])
    path = tmp_path / "long.wav"
    soundfile.write(path, audio, RATE)
    duration = len(audio) / RATE
    window = duration / 3 + 0.5  # three windows: speech, silence, speech
    with DiarizationResource().session() as session:
        windowed = session.diarize(path, window_seconds=window)
    assert windowed.speakers
    assert set(windowed.speakers) == {t.speaker for t in windowed.turns} | set(windowed.speaker_embeddings)
    turns = windowed.turns + windowed.exclusive_turns
    assert all(0 <= t.start < t.end <= duration + 0.05 for t in turns), turns
    # The file's times: turns in the first and the last window, none in the silent middle one.
    _, middle, last = read_windows(path, window, RATE)
    assert all(t.end <= middle.start or t.start >= last.start for t in turns)
    assert any(t.start >= last.start for t in windowed.turns) and any(t.end <= middle.start for t in windowed.turns)
    assert all(v.shape == (192,) for v in windowed.speaker_embeddings.values())  # CAM++
    # The clip's two voices, heard in the first window and again in the last, are linked: two speakers.
    assert len(windowed.speakers) == 2, windowed.speakers
