"""Word error rate of ASR output against a known text, scored as OpenAI scores Whisper: both sides
through Whisper's English normaliser, then jiwer's WER. Also the speech the bench and tests score:
pyannote.audio's bundled human two-speaker sample, and espeak-ng speech of known text."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ytingest.offline.sample_channel import Episode

# OpenAI's tiny.en WER on LibriSpeech (Radford et al. 2022, "Robust Speech Recognition via Large-Scale Weak
# Supervision", appendix D.1.1, greedy decoding): the published figure the bench reports beside its own.
PUBLISHED_TINY_EN_WER: Final = {"LibriSpeech test-clean": 0.056, "LibriSpeech test-other": 0.146}


@functools.cache
def _normaliser():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    return _normaliser()(text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


@dataclass(frozen=True)
class ScoredAudio:
    name: str
    path: Path  # 16 kHz mono wav
    reference: str
    seconds: float


def pyannote_sample() -> ScoredAudio:
    """pyannote.audio's bundled sample: 30 s of two people talking, with its reference transcript (STM)."""
    import pyannote.audio
    import soundfile

    folder = Path(pyannote.audio.__file__).parent / "sample"
    lines = (folder / "sample.stm").read_text().splitlines()
    # STM: file channel speaker start end transcript...
    reference = " ".join(line.split(maxsplit=5)[5] for line in lines if len(line.split()) > 5)
    wav = folder / "sample.wav"
    return ScoredAudio("pyannote sample.wav (human, 2 speakers)", wav, reference, soundfile.info(str(wav)).duration)


def spoken(episodes: Sequence[Episode], out_dir: Path) -> list[ScoredAudio]:
    """Each episode's espeak-ng speech as a 16 kHz mono wav, with its text as the reference."""
    import soundfile

    from ytingest.offline.sample_channel import SAMPLE_RATE, render_speech

    out_dir.mkdir(parents=True, exist_ok=True)
    scored = []
    for episode in episodes:
        samples, utterances = render_speech(episode, out_dir / ".tts-cache")
        native = out_dir / f"{episode.video_id}.{SAMPLE_RATE}.wav"
        soundfile.write(native, samples, SAMPLE_RATE)
        wav = out_dir / f"{episode.video_id}.wav"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(native), "-ac", "1", "-ar", "16000", str(wav)],
            check=True,
            capture_output=True,
        )
        voices = len({u.voice for u in utterances})
        text = " ".join(u.text for u in utterances)
        name = f"espeak-ng {episode.video_id} ({voices} voices)"
        scored.append(ScoredAudio(name, wav, text, samples.size / SAMPLE_RATE))
    return scored
