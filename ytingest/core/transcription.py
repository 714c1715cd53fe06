"""Where a video's audio becomes text: captions first, faster-whisper when there are none.

`TranscriptFetcher` keeps the seed's name and its two paths. Captions are tried best first (manual,
configured languages, json3); when none parses, the fallback path runs ASR with a real preprocessing
config (resampling checked, loudness normalised, VAD, windows that keep multi-hour audio in bounded
memory) and guards against Whisper's hallucinations on silence.
"""

from __future__ import annotations

import logging
import math
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ytingest.core.captions import (
    CaptionError,
    Segment,
    Word,
    parse_captions,
    rank_captions,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreprocessingConfig:
    sample_rate: int = 16_000
    target_dbfs: float = -20.0  # loudness the ASR sees, whatever the recording level
    max_gain_db: float = 30.0  # never amplify near-silence into noise Whisper would transcribe
    vad_threshold: float = 0.5
    min_silence_ms: int = 500
    speech_pad_ms: int = 200
    window_seconds: float = 1200.0  # audio held in memory at once: 20 min is 77 MB of float32
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4


@dataclass(frozen=True)
class CaptionFile:
    language: str
    kind: str
    format: str
    path: Path


@dataclass(frozen=True)
class FetchedTranscript:
    segments: list[Segment]
    source: str  # captions | asr
    language: str | None
    model: str | None
    caption_kind: str | None
    speech_seconds: float
    audio_seconds: float
    notes: tuple[str, ...] = ()


def read_windows(path: Path, config: PreprocessingConfig) -> Iterator[tuple[float, np.ndarray]]:
    """(offset seconds, float32 samples) windows of a 16 kHz mono PCM WAV, never the whole file at once."""
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != config.sample_rate or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path.name}: expected 16-bit mono at {config.sample_rate} Hz")
        frames = int(config.window_seconds * config.sample_rate)
        offset = 0
        while True:
            raw = wav.readframes(frames)
            if not raw:
                return
            yield offset / config.sample_rate, np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
            offset += len(raw) // 2


def loudness_gain(path: Path, config: PreprocessingConfig) -> float:
    """One gain for the whole file (streamed), so every window is normalised alike."""
    total, count = 0.0, 0
    for _, samples in read_windows(path, config):
        total += float(np.dot(samples, samples))
        count += samples.size
    if count == 0 or total == 0:
        return 1.0
    rms_db = 10 * math.log10(total / count)
    gain_db = min(config.target_dbfs - rms_db, config.max_gain_db)
    return 10 ** (gain_db / 20)


def speech_seconds(path: Path, config: PreprocessingConfig) -> float:
    """Seconds of detected speech (Silero VAD, as faster-whisper runs it)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        threshold=config.vad_threshold, min_silence_duration_ms=config.min_silence_ms, speech_pad_ms=config.speech_pad_ms
    )
    total = 0
    for _, samples in read_windows(path, config):
        total += sum(t["end"] - t["start"] for t in get_speech_timestamps(samples, options, config.sample_rate))
    return total / config.sample_rate


class TranscriptFetcher:
    def __init__(self, languages: Sequence[str], preprocessing_config: PreprocessingConfig | None = None):
        self.languages = list(languages)
        self.preprocessing_config = preprocessing_config or PreprocessingConfig()

    def from_captions(
        self,
        captions: Sequence[CaptionFile],
        problems: list[str] | None = None,
        duration: float | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list[Segment], CaptionFile] | None:
        """The best caption track that parses to some text; None sends the video to ASR. Why each better
        track was passed over is appended to `problems`. Times are kept within [0, duration]; a file over
        `max_bytes` is not read."""
        for caption in rank_captions(captions, self.languages):
            track = f"{caption.language} {caption.kind} {caption.format}"
            try:
                if max_bytes is not None and caption.path.stat().st_size > max_bytes:
                    raise CaptionError(f"larger than {max_bytes} bytes (CAPTION_MAX_BYTES)")
                segments = parse_captions(
                    caption.path.read_bytes(), caption.format, rolling=True if caption.kind == "automatic" else None,
                    max_bytes=max_bytes, duration=duration,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - whatever a caption file does, it costs only its track
                log.warning("captions %s (%s, %s) unusable: %s", caption.path.name, caption.language, caption.kind, exc)
                if problems is not None:
                    problems.append(f"{track} captions unusable: {exc}")
                continue
            if segments:
                return segments, caption
            log.warning("captions %s are empty", caption.path.name)
            if problems is not None:
                problems.append(f"{track} captions are empty")
        return None

    def from_asr(self, asr, audio_path: Path, word_timestamps: bool, temperature: float | None) -> tuple[list[Segment], str | None]:
        """Transcribe window by window with VAD; drop what Whisper produces from silence or loops."""
        config = self.preprocessing_config
        gain = loudness_gain(audio_path, config)
        options = {
            "vad_filter": True,
            "vad_parameters": {
                "threshold": config.vad_threshold,
                "min_silence_duration_ms": config.min_silence_ms,
                "speech_pad_ms": config.speech_pad_ms,
            },
            "word_timestamps": word_timestamps,
            "no_speech_threshold": config.no_speech_threshold,
            "log_prob_threshold": config.log_prob_threshold,
            "compression_ratio_threshold": config.compression_ratio_threshold,
            "condition_on_previous_text": False,  # a hallucination must not seed the next window
        }
        if temperature is not None:
            options["temperature"] = temperature
        segments: list[Segment] = []
        language = None
        for offset, samples in read_windows(audio_path, config):
            length = samples.size / config.sample_rate
            transcript = asr.transcribe(np.clip(samples * gain, -1.0, 1.0), **options)
            language = language or transcript.language
            segments.extend(_kept(transcript.segments, offset, length, config))
        return segments, language


def _kept(raw, offset: float, length: float, config: PreprocessingConfig) -> Iterator[Segment]:
    for seg in raw:
        text = seg.text.strip()
        silent = seg.no_speech_prob > config.no_speech_threshold and seg.avg_logprob < config.log_prob_threshold
        looping = seg.compression_ratio > config.compression_ratio_threshold
        start, end = max(0.0, seg.start), min(length, seg.end)
        if not text or silent or looping or end <= start:
            continue
        words = tuple(
            Word(offset + max(0.0, w.start), offset + min(length, w.end), w.word.strip())
            for w in (seg.words or [])
            if w.word.strip() and w.end > w.start
        )
        yield Segment(offset + start, offset + end, text, words)
