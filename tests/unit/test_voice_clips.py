"""Reading each speaker's clip from the WAV, also when a stored turn reaches past the end of the file."""

import wave

import numpy as np

from ingest_assets.voice_embeddings import SAMPLE_RATE, speaker_clips


def _wav(path, seconds: float):
    samples = (np.sin(np.arange(int(seconds * SAMPLE_RATE)) / 7) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.tobytes())
    return path


def test_turns_past_the_end_read_what_is_there(tmp_path):
    path = _wav(tmp_path / "short.wav", 2.0)
    clips = speaker_clips(path, [(0.0, 1.5, "A"), (1.5, 4.0, "B"), (3.0, 5.0, "C")], max_seconds=30)
    assert set(clips) == {"A", "B"}  # C starts after the audio ends: nothing of its voice is there
    assert clips["A"][1] == 1.5 and abs(clips["B"][1] - 0.5) < 1e-9
    assert clips["B"][0].size == SAMPLE_RATE // 2


def test_each_speaker_gets_at_most_max_seconds(tmp_path):
    path = _wav(tmp_path / "long.wav", 10.0)
    clips = speaker_clips(path, [(0.0, 4.0, "A"), (4.0, 8.0, "A"), (8.0, 8.1, "B")], max_seconds=5)
    assert set(clips) == {"A"} and clips["A"][1] == 5.0  # B's 0.1 s is under MIN_TURN_SECONDS
