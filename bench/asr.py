"""The offline ASR path (real Whisper tiny.en): its word error rate on human and generated speech, beside
OpenAI's published tiny.en figure, and the `transcripts` step's ASR speed against bare faster-whisper on
the same audio in the same run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.report import Report, Row

SPEED_TARGET = 0.95


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from resources.models import WhisperResource
    from ytingest.offline.speech_quality import (
        PUBLISHED_TINY_EN_WER,
        pyannote_sample,
        word_error_rate,
    )
    from ytingest.settings import get_settings

    audios = [pyannote_sample(), *_generated(work, quick)]
    settings = get_settings()
    published = ", ".join(f"{name} {wer:.1%}" for name, wer in PUBLISHED_TINY_EN_WER.items())
    details: dict[str, Any] = {}
    with WhisperResource().session() as asr:
        model_name, model_dir = asr.plan.name, asr.source.path
        step_seconds, texts = {}, {}
        for audio in audios:
            step_seconds[audio.name], texts[audio.name] = _step_path(asr, audio.path, settings)
    assert model_dir is not None, "the ASR bench runs the offline model from disk"
    bare = _bare(model_dir, settings, [a.path for a in audios])
    for audio in audios:
        wer = word_error_rate(audio.reference, texts[audio.name])
        details[audio.name] = {"seconds": round(audio.seconds, 1), "wer": round(wer, 4), "hypothesis": texts[audio.name]}
        report.add(Row("asr", f"WER, {audio.name}", wer, "WER", definition=(
            f"{model_name} through the `transcripts` step's ASR path (VAD windows, loudness gain, hallucination "
            f"guards), {audio.seconds:.0f} s; jiwer WER after Whisper's English normaliser on both sides; "
            f"published tiny.en WER (greedy): {published}")))  # fmt: skip
    total = sum(a.seconds for a in audios)
    step = sum(step_seconds.values())
    definition = (
        f"{len(audios)} files, {total / 60:.1f} min of audio; step path = `speech_seconds` + "
        "`TranscriptFetcher.from_asr` in a WhisperSession (what `transcripts` does for a video without captions, "
        f"batched at WHISPER_BATCH_SIZE={settings.whisper_batch_size}); baseline = bare faster-whisper on the "
        "same files with the same decoding options, model loaded beforehand"
    )
    report.add(
        Row("asr", "step ASR speed vs bare batched", total / step, "audio s/s", total / bare["batched"], SPEED_TARGET,
            ">=", definition + " (BatchedInferencePipeline, VAD on)"),
        Row("asr", "step ASR speed vs bare sequential", total / step, "audio s/s", total / bare["sequential"],
            definition="the same, against faster-whisper's unbatched decoder (WhisperModel.transcribe, VAD on)"),
    )  # fmt: skip
    details["step_seconds"] = {k: round(v, 2) for k, v in step_seconds.items()}
    details["bare_seconds"] = {k: round(v, 2) for k, v in bare.items()}
    report.details["asr"] = details


def _generated(work: Path, quick: bool) -> list[Any]:
    """The demo's espeak-ng episodes (three voices, 8 minutes), or two of them when quick, with their text."""
    from ytingest.offline.demo_channel import demo_episodes
    from ytingest.offline.speech_quality import spoken

    return spoken(demo_episodes()[:2] if quick else demo_episodes(), work / "asr-speech")


def _step_path(asr: Any, path: Path, settings: Any) -> tuple[float, str]:
    from ytingest.core.transcription import TranscriptFetcher, speech_seconds

    fetcher = TranscriptFetcher(settings.caption_languages)
    asr.loaded()  # load time is not ASR speed: the baseline loads beforehand too
    started = time.perf_counter()
    speech_seconds(path, fetcher.preprocessing_config)
    segments, _ = fetcher.from_asr(asr, path, settings.whisper_word_timestamps, settings.whisper_temperature)
    return time.perf_counter() - started, " ".join(s.text for s in segments)


def _bare(model_dir: Path, settings: Any, paths: list[Path]) -> dict[str, float]:
    """Seconds for bare faster-whisper over `paths`: batched pipeline and sequential decoder."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    options: dict[str, Any] = {
        "language": "en",
        "vad_filter": True,
        "word_timestamps": settings.whisper_word_timestamps,
        "condition_on_previous_text": False,
    }
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", num_workers=settings.asr_workers)
    pipeline = BatchedInferencePipeline(model)
    seconds = {}
    for name, transcribe in (
        ("batched", lambda p: pipeline.transcribe(str(p), batch_size=settings.whisper_batch_size, **options)),
        ("sequential", lambda p: model.transcribe(str(p), **options)),
    ):
        started = time.perf_counter()
        for path in paths:
            segments, _ = transcribe(path)
            list(segments)
        seconds[name] = time.perf_counter() - started
    return seconds
