"""The smoke models load and run through each library's real inference code, offline.

The weights are random, so these tests check formats, shapes and code paths, never
what was said or who said it.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.fixtures_models import SpeechClip
from ytingest.offline.smoke_models import (
    SAMPLE_RATE,
    SmokeModels,
    build_smoke_models,
    minilm_path,
)

# A random decoder never predicts end-of-text on purpose; faster-whisper caps each 30 s
# window, so a transcription must still finish quickly.
_TRANSCRIBE_SECONDS = 30.0


def test_hub_is_offline() -> None:
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE, "run the tests with HF_HUB_OFFLINE=1"


def test_network_guard_refuses_remote_hosts(no_network: list[str]) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1, never routable
    with pytest.raises(OSError):
        socket.getaddrinfo("huggingface.co", 443)
    assert len(no_network) == 2
    no_network.clear()  # refused on purpose here


def test_manifest_describes_the_build_and_a_rebuild_is_reused(smoke_models: SmokeModels) -> None:
    manifest = json.loads(smoke_models.manifest.read_text())
    assert manifest["key"]["size"] == "tiny"
    models = manifest["models"]
    assert set(models) == {"whisper", "voice", "pyannote", "text_encoder"}
    assert all(model["params"] > 0 and model["disk_bytes"] > 0 for model in models.values())
    assert models["voice"]["embedding_dim"] == smoke_models.voice_embedding_dim
    assert models["text_encoder"]["embedding_dim"] == 384
    assert {kind: (model["name"], model["real"]) for kind, model in models.items()} == {
        "whisper": ("smoke-whisper-tiny", False),
        "voice": ("smoke-ecapa-tiny", False),
        "pyannote": ("smoke-pyannote-tiny", False),
        "text_encoder": ("sentence-transformers/all-MiniLM-L6-v2", True),
    }

    model_bin = smoke_models.whisper / "model.bin"
    written = model_bin.stat().st_mtime_ns
    started = time.perf_counter()
    again = build_smoke_models(smoke_models.manifest.parent, size="tiny")
    assert time.perf_counter() - started < 1.0
    assert again == smoke_models
    assert model_bin.stat().st_mtime_ns == written


def test_layouts_are_the_ones_the_libraries_load(smoke_models: SmokeModels) -> None:
    for name in ("model.bin", "config.json", "vocabulary.json", "tokenizer.json", "preprocessor_config.json"):
        assert (smoke_models.whisper / name).is_file(), name
    whisper_config = json.loads((smoke_models.whisper / "config.json").read_text())
    assert len(whisper_config["lang_ids"]) == 100

    ecapa_files = {path.name for path in smoke_models.voice.iterdir()}
    assert ecapa_files == {"hyperparams.yaml", "embedding_model.ckpt", "classifier.ckpt"}

    for name in ("config.yaml", "segmentation/pytorch_model.bin", "embedding/pytorch_model.bin"):
        assert (smoke_models.pyannote / name).is_file(), name
    for name in ("xvec_transform.npz", "plda.npz"):
        assert (smoke_models.pyannote / "plda" / name).is_file(), name

    # A self-contained copy of the installed all-MiniLM-L6-v2 (hard links: no second copy of the weights).
    copied = smoke_models.text_encoder / "model.safetensors"
    assert copied.read_bytes() == (minilm_path() / "model.safetensors").read_bytes()


def test_faster_whisper_transcribes(
    smoke_models: SmokeModels, speech_clip: SpeechClip, no_network: list[str]
) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(smoke_models.whisper), device="cpu", compute_type="int8", cpu_threads=2)
    assert model.model.is_multilingual

    started = time.perf_counter()
    # No language given: exercises language detection, which needs the language ids.
    segments, info = model.transcribe(str(speech_clip.path), temperature=0, vad_filter=False)
    detected = list(segments)
    segments, _ = model.transcribe(speech_clip.waveform, language="en", temperature=0, vad_filter=False)
    english = list(segments)
    assert time.perf_counter() - started < _TRANSCRIBE_SECONDS

    assert info.language in model.supported_languages
    assert info.duration == pytest.approx(speech_clip.seconds, abs=0.05)
    for segment in detected + english:
        assert isinstance(segment.text, str)
        assert 0.0 <= segment.start <= segment.end


def test_faster_whisper_batched_pipeline(
    smoke_models: SmokeModels, speech_clip: SpeechClip, no_network: list[str]
) -> None:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(str(smoke_models.whisper), device="cpu", compute_type="int8", cpu_threads=2)
    pipeline = BatchedInferencePipeline(model)

    started = time.perf_counter()
    segments, info = pipeline.transcribe(
        speech_clip.waveform, language="en", temperature=0, vad_filter=False, batch_size=4
    )
    transcript = list(segments)
    assert time.perf_counter() - started < _TRANSCRIBE_SECONDS

    assert info.language == "en"
    assert all(isinstance(segment.text, str) for segment in transcript)


@pytest.fixture
def pyannote_telemetry_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read on every tracked call, so setting it after import is enough.
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "false")


# Random weights leave some (chunk, speaker) pairs without a single active frame.
@pytest.mark.filterwarnings("ignore:std\\(\\).*degrees of freedom:UserWarning")
@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_pyannote_diarizes_an_in_memory_waveform(
    smoke_models: SmokeModels, speech_clip: SpeechClip, pyannote_telemetry_off: None, no_network: list[str]
) -> None:
    import torch
    from pyannote.audio import Pipeline
    from pyannote.audio.telemetry.metrics import is_metrics_enabled
    from pyannote.core import Annotation

    assert not is_metrics_enabled()
    pipeline = Pipeline.from_pretrained(smoke_models.pyannote)
    assert pipeline is not None

    # (channel, time) in memory: no torchcodec decoding.
    output = pipeline({"waveform": torch.from_numpy(speech_clip.waveform)[None], "sample_rate": SAMPLE_RATE})

    assert isinstance(output.speaker_diarization, Annotation)
    assert isinstance(output.exclusive_speaker_diarization, Annotation)
    labels = output.speaker_diarization.labels()
    assert output.speaker_embeddings is not None
    assert output.speaker_embeddings.shape == (len(labels), 256)


def test_speechbrain_ecapa_encodes_a_batch(
    smoke_models: SmokeModels, speech_clip: SpeechClip, no_network: list[str]
) -> None:
    import torch
    from speechbrain.inference.speaker import EncoderClassifier

    encoder = EncoderClassifier.from_hparams(
        source=str(smoke_models.voice), savedir=str(smoke_models.voice), run_opts={"device": "cpu"}
    )
    full = torch.from_numpy(speech_clip.waveform)
    half = torch.zeros_like(full)
    half[: len(full) // 2] = full[: len(full) // 2]
    embeddings = encoder.encode_batch(torch.stack([full, half]), wav_lens=torch.tensor([1.0, 0.5]))

    assert embeddings.shape == (2, 1, smoke_models.voice_embedding_dim)
    assert torch.isfinite(embeddings).all()


def test_sentence_transformer_encodes_normalised_vectors(smoke_models: SmokeModels, no_network: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(smoke_models.text_encoder), device="cpu")
    vectors = encoder.encode(["a speaker-attributed archive", "of video channels"], normalize_embeddings=True)

    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_real_size_builds_and_loads(tmp_path: Path, no_network: list[str]) -> None:
    from faster_whisper import WhisperModel

    models = build_smoke_models(tmp_path, size="real")
    manifest = json.loads(models.manifest.read_text())["models"]
    assert manifest["whisper"]["d_model"] == 1280
    assert manifest["whisper"]["vocab_size"] == 51866

    model = WhisperModel(str(models.whisper), device="cpu", compute_type="int8")
    assert model.model.is_multilingual
    assert model.model.n_mels == 128
