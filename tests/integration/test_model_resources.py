"""The model resources run each library's real inference on the smoke models, on the CPU, offline.

The weights are random, so the tests check shapes, code paths, metadata and memory, never
what was said or who said it.
"""

import gc
import importlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from resources.models import (
    DiarizationResource,
    DiarizationSession,
    ModelConfigError,
    TextEncoderResource,
    TextEncoderSession,
    VoiceEncoderResource,
    VoiceSession,
    WhisperResource,
    WhisperSession,
)
from resources.models.device import (
    GIB,
    VARIABLES,
    CudaDevice,
    Kind,
    choose_profile,
    plan_model,
)
from resources.models.memory import release_memory, rss_bytes
from resources.models.session import ModelSession
from resources.models.whisper import Transcript
from tests.support.fixtures_models import SpeechClip
from ytingest.app.models_cli import add_models_commands
from ytingest.offline.smoke_models import SmokeModels
from ytingest.settings import SettingsError, load_settings

SECRET = "hf_TESTSECRETTOKEN0123456789"
# Random weights leave some (chunk, speaker) pairs without an active frame: pyannote warns.
pyannote_noise = pytest.mark.filterwarnings(
    "ignore:std\\(\\).*degrees of freedom:UserWarning",
    "ignore:Mean of empty slice:RuntimeWarning",
    "ignore:invalid value encountered:RuntimeWarning",
)


@pytest.fixture
def model_env(smoke_models: SmokeModels, monkeypatch: pytest.MonkeyPatch) -> SmokeModels:
    """Smoke models found through MODELS_DIR/<name>, every model pinned to the CPU."""
    monkeypatch.setenv("MODELS_DIR", str(smoke_models.whisper.parent))
    monkeypatch.setenv("WHISPER_MODEL", smoke_models.whisper.name)
    monkeypatch.setenv("DIARIZATION_MODEL", smoke_models.pyannote.name)
    monkeypatch.setenv("VOICE_MODEL", smoke_models.voice.name)
    monkeypatch.setenv("EMBEDDING_MODEL", str(smoke_models.text_encoder))
    for variable in ("WHISPER_DEVICE", "DIARIZATION_DEVICE", "VOICE_DEVICE", "EMBEDDING_DEVICE"):
        monkeypatch.setenv(variable, "cpu")
    return smoke_models


def _common_metadata(metadata: dict[str, Any], kind: Kind) -> None:
    assert metadata[f"{kind}/device"] == "cpu"
    assert f"{VARIABLES[kind][1]}=cpu" in metadata[f"{kind}/choice"]
    assert metadata[f"{kind}/load_seconds"] > 0
    assert metadata[f"{kind}/inference_seconds"] > 0
    assert metadata[f"{kind}/peak_rss_mb"] > 0
    assert metadata[f"{kind}/rss_after_release_mb"] > 0
    assert metadata[f"{kind}/oom_errors"] == 0


def test_whisper_transcribes_batched_sequential_and_concurrently_on_one_model(
    model_env: SmokeModels, speech_clip: SpeechClip, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv("ASR_WORKERS", "2")
    fast: dict[str, Any] = {
        "language": "en",
        "temperature": 0,
        "vad_filter": False,
    }  # random weights trip temperature fallback
    with WhisperResource(batch_size=4).session() as asr:
        batched = asr.transcribe(speech_clip.waveform, **fast)
        from_file = asr.transcribe(speech_clip.path, **fast)
        sequential = asr.transcribe(speech_clip.path, batched=False, **fast)
        with ThreadPoolExecutor(max_workers=2) as pool:  # as the transcripts asset calls it with ASR_WORKERS=2
            concurrent = list(pool.map(lambda audio: asr.transcribe(audio, **fast), [speech_clip.waveform, speech_clip.path]))
        replicas = asr.loaded().model.model.num_workers

    def timed_text(transcript: Transcript) -> list[tuple[float, float, str]]:
        return [(round(s.start, 2), round(s.end, 2), s.text) for s in transcript.segments]

    assert batched.batch_size == 4 and sequential.batch_size is None
    assert batched.segments and sequential.segments
    # One decoder at temperature 0: the WAV file and its samples decode to the same segments, and so do
    # two calls running at once on the shared model.
    assert timed_text(from_file) == timed_text(batched)
    assert [timed_text(t) for t in concurrent] == [timed_text(batched)] * 2
    assert replicas == 2  # CTranslate2 num_workers: the concurrent calls run in parallel on one set of weights
    for transcript in (batched, from_file, sequential, *concurrent):
        assert transcript.language == "en"
        assert transcript.duration == pytest.approx(speech_clip.seconds, abs=0.05)
    metadata = asr.metadata()
    _common_metadata(metadata, "whisper")
    assert metadata["whisper/compute_type"] == "int8"
    assert metadata["whisper/inference_calls"] == 5
    assert metadata["whisper/source"] == str(model_env.whisper)


@pytest.mark.parametrize("as_path", [False, True], ids=["waveform", "wav-file"])
@pyannote_noise
def test_diarization_runs_pyannote_with_telemetry_off_and_no_token_anywhere(
    model_env: SmokeModels,
    speech_clip: SpeechClip,
    as_path: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    no_network: list[str],
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    with DiarizationResource(batch_size=8).session() as diarizer:
        result = diarizer.diarize(speech_clip.path if as_path else speech_clip.waveform)
        from pyannote.audio.telemetry.metrics import is_metrics_enabled

        assert not is_metrics_enabled()

    assert set(result.speakers) == {turn.speaker for turn in result.turns}
    assert all(0 <= turn.start < turn.end for turn in result.turns)
    assert all(vector.shape == (256,) and np.isfinite(vector).all() for vector in result.speaker_embeddings.values())
    metadata = diarizer.metadata()
    _common_metadata(metadata, "diarization")
    assert metadata["diarization/batch_size"] == 8
    assert SECRET not in repr(metadata) and SECRET not in caplog.text


def test_voice_encoder_embeds_clips_of_different_lengths(
    model_env: SmokeModels, speech_clip: SpeechClip, no_network: list[str]
) -> None:
    clips = [speech_clip.waveform, speech_clip.waveform[:16_000], speech_clip.waveform[8_000:40_000]]
    with VoiceEncoderResource(batch_size=2).session() as voice:
        vectors = voice.embed(clips)
        alone = voice.embed([clips[1]])

    assert vectors.shape == (3, model_env.voice_embedding_dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    # Padding inside a batch barely changes a clip's embedding (the length mask is approximate at the edges).
    cosine = vectors[1] @ alone[0] / (np.linalg.norm(vectors[1]) * np.linalg.norm(alone[0]))
    assert cosine > 0.99
    _common_metadata(voice.metadata(), "voice")
    with pytest.raises(ValueError, match="clip 0"):
        with VoiceEncoderResource().session() as voice:
            voice.embed([np.zeros(0, dtype=np.float32)])


def test_text_encoder_gives_unit_vectors_of_the_checked_size(
    model_env: SmokeModels, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "384")
    with TextEncoderResource().session() as encoder:
        vectors = encoder.encode(["a speaker-attributed archive", "of video channels", "third"])
        assert encoder.dimensions == 384
        assert encoder.encode([]).shape == (0, 384)

    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    _common_metadata(encoder.metadata(), "text_encoder")


def test_a_session_inside_a_dagster_asset_puts_its_metadata_on_the_materialisation(
    model_env: SmokeModels, no_network: list[str]
) -> None:
    @dg.asset
    def chunk_vectors(context: dg.AssetExecutionContext, text_encoder: TextEncoderResource) -> dg.MaterializeResult:
        with text_encoder.session(context) as encoder:
            vectors = encoder.encode(["one chunk", "another chunk"])
        return dg.MaterializeResult(metadata={"chunks": len(vectors), **encoder.metadata()})

    result = dg.materialize([chunk_vectors], resources={"text_encoder": TextEncoderResource()})

    metadata = result.asset_materializations_for_node("chunk_vectors")[0].metadata
    assert metadata["chunks"].value == 2
    assert metadata["text_encoder/device"].value == "cpu"
    assert "EMBEDDING_DEVICE=cpu" in str(metadata["text_encoder/choice"].value)
    assert float(metadata["text_encoder/load_seconds"].value) > 0  # type: ignore[arg-type]


# --- release ---------------------------------------------------------------------------------

_MB = 2**20


def _cycles(speech_clip: SpeechClip) -> dict[str, Callable[[], None]]:
    fast: dict[str, Any] = {"language": "en", "temperature": 0, "vad_filter": False}

    def whisper() -> None:
        with WhisperResource().session() as asr:
            asr.transcribe(speech_clip.waveform, **fast)

    def diarization() -> None:
        with DiarizationResource().session() as diarizer:
            diarizer.diarize(speech_clip.waveform)

    def voice() -> None:
        with VoiceEncoderResource().session() as encoder:
            encoder.embed([speech_clip.waveform])

    def text_encoder() -> None:
        with TextEncoderResource().session() as encoder:
            encoder.encode(["a chunk of a transcript"] * 8)

    return {"whisper": whisper, "diarization": diarization, "voice": voice, "text_encoder": text_encoder}


def _anonymous_rss() -> int:
    """Heap, tensors and weights: RSS without the file-backed pages of shared libraries' code."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    pytest.skip("no RssAnon in /proc/self/status (not Linux)")


@pyannote_noise
def test_five_load_infer_release_cycles_return_rss_to_within_50_mb(
    model_env: SmokeModels, speech_clip: SpeechClip, no_network: list[str]
) -> None:
    """What is measured, per model: the baseline comes after importing what its session imports
    (`Session.modules`: torch alone is ~500 MB and no release can unload a module) and before its
    first load; each cycle opens a session, runs inference and leaves the block.

    Anonymous RSS (the model's weights, activations, heap) must come back to within 50 MB of the
    baseline after every cycle. Total RSS also counts library code paged in by the first inference
    (file-backed, shared, measured at 12-32 MB per library); it may rise once, then must stay put.
    """
    sessions: dict[str, type[ModelSession[Any]]] = {
        "whisper": WhisperSession,
        "diarization": DiarizationSession,
        "voice": VoiceSession,
        "text_encoder": TextEncoderSession,
    }
    report = {}
    for kind, cycle in _cycles(speech_clip).items():
        for module in sessions[kind].modules:
            importlib.import_module(module)
        release_memory()
        baseline, baseline_anon = rss_bytes(), _anonymous_rss()
        total, anonymous = [], []
        for _ in range(5):
            cycle()
            gc.collect()
            total.append(rss_bytes() - baseline)
            anonymous.append(_anonymous_rss() - baseline_anon)
        report[kind] = {
            "total_mb": [round(t / _MB, 1) for t in total],
            "anonymous_mb": [round(a / _MB, 1) for a in anonymous],
        }
        assert max(anonymous) < 50 * _MB, report
        assert total[0] < 100 * _MB and max(total) - total[0] < 20 * _MB, f"{kind} grows with every cycle: {report}"


# --- profile and device policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        (None, "cpu"),
        (CudaDevice("fake 8 GB", 8 * GIB), "gpu-small"),
        (CudaDevice("fake just under", 15 * GIB - 1), "gpu-small"),
        (CudaDevice("fake at the line", 15 * GIB), "gpu-large"),
        (CudaDevice("fake T4", int(15.36 * GIB)), "gpu-large"),
        (CudaDevice("fake H100", 80 * GIB), "gpu-large"),
    ],
)
def test_auto_profile_follows_fake_gpu_memory(gpu: CudaDevice | None, expected: str) -> None:
    profile, reason = choose_profile("auto", gpu)
    assert profile == expected
    assert reason.startswith("MODEL_PROFILE=auto") and expected in reason


def test_profile_models_and_individual_overrides_fake_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    small_gpu = CudaDevice("fake 12 GB", 12 * GIB)
    settings = load_settings()

    whisper = plan_model("whisper", settings, small_gpu, sees_cuda=True)
    assert (whisper.name, whisper.compute, whisper.device) == ("medium.en", "int8", "cuda")
    text = plan_model("text_encoder", settings, small_gpu, sees_cuda=True)
    assert text.name == "sentence-transformers/all-MiniLM-L6-v2"

    large = load_settings(model_profile="gpu-large")
    assert plan_model("whisper", large, small_gpu, sees_cuda=True).name == "distil-large-v3"
    assert plan_model("whisper", large, small_gpu, sees_cuda=True).compute == "int8_float16"
    assert plan_model("text_encoder", large, small_gpu, sees_cuda=True).name == "Alibaba-NLP/gte-Qwen2-1.5B-instruct"
    # A GPU profile without a GPU keeps its models but a CPU compute type.
    assert plan_model("whisper", large, None, sees_cuda=False).compute == "int8"

    overridden = load_settings(model_profile="gpu-large", embedding_device="cpu", whisper_model="small.en")
    text = plan_model("text_encoder", overridden, small_gpu, sees_cuda=True)
    assert text.device == "cpu" and "EMBEDDING_DEVICE=cpu" in text.reason
    assert plan_model("whisper", overridden, small_gpu, sees_cuda=True).name == "small.en"
    cpu_profile = plan_model("voice", load_settings(model_profile="cpu"), small_gpu, sees_cuda=True)
    assert cpu_profile.device == "cpu" and "profile cpu" in cpu_profile.reason


# --- bad settings fail fast, naming the variable ---------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "resource", "expected"),
    [
        ("WHISPER_MODEL", "/nonexistent/whisper-model", WhisperResource, "is not a directory"),
        ("WHISPER_MODEL", "huge-v9", WhisperResource, "unknown model 'huge-v9'"),
        ("WHISPER_MODEL", "distil-large-v3", WhisperResource, "hub is out of reach"),
        ("DIARIZATION_MODEL", "voice", DiarizationResource, "no config.yaml"),
        ("VOICE_MODEL", "/nonexistent/ecapa", VoiceEncoderResource, "is not a directory"),
        ("EMBEDDING_MODEL", "not-a-repo", TextEncoderResource, "unknown model"),
        ("WHISPER_COMPUTE", "float16", WhisperResource, "does not run on cpu"),
        ("WHISPER_DEVICE", "cuda", WhisperResource, "sees no CUDA device"),
    ],
)
def test_bad_model_settings_fail_fast_naming_the_variable(
    model_env: SmokeModels,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    resource: type,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ModelConfigError) as err:
        with resource().session():
            pass
    assert variable in str(err.value) and expected in str(err.value)


def test_unknown_compute_type_is_refused_by_settings(model_env: SmokeModels) -> None:
    with pytest.raises(SettingsError, match="WHISPER_COMPUTE"):
        with WhisperResource(compute_type="int3").session():
            pass


def test_embedding_dimensions_that_disagree_with_the_model_fail_before_any_vector(
    model_env: SmokeModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "1536")
    with TextEncoderResource().session() as encoder:
        with pytest.raises(ModelConfigError, match=r"EMBEDDING_DIMENSIONS=1536.*produces 384"):
            encoder.encode(["never embedded"])


# --- the `models` commands -----------------------------------------------------------------------


def _run_models(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="ytingest")
    add_models_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_models_offline_builds_the_set_and_names_it_once(
    offline_models: SmokeModels, capsys: pytest.CaptureFixture[str]
) -> None:
    # The session fixture's directory: the build is reused, so this checks the command, not the builder.
    where = offline_models.manifest.parent
    for command in ("offline", "smoke"):  # `smoke` is the old name, kept as an alias
        assert _run_models(["models", command, str(where)]) == 0
        out = capsys.readouterr().out
        assert f"set only MODELS_DIR={where}" in out
        assert "tiny.en" in out and "segmentation-3.0+campplus-sv-zh-en" in out and "campplus-sv-zh-en-16k" in out
        assert "SMOKE BUILD" not in out and out.count("real weights") == 4


def test_models_fetch_says_what_it_needs_and_fails_fast_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_network: list[str]
) -> None:
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    assert _run_models(["models", "fetch", "--profile", "gpu-small"]) == 2
    err = capsys.readouterr().err
    assert "HF_TOKEN" in err and "accept" in err and "pyannote/speaker-diarization-community-1" in err

    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert _run_models(["models", "fetch", "--profile", "gpu-small"]) == 2
    err = capsys.readouterr().err
    assert "offline" in err and SECRET not in err
    assert list(tmp_path.iterdir()) == []
