"""Out of memory never crashes a step: the batch halves down to 1, then the CPU takes over, else the
video fails with a clear reason; the pre-load check refuses what would exceed VRAM_BUDGET_FRACTION.

The exceptions are the libraries' real types, raised at the real inference call. Tests named
`..._fake_gpu_...` also fake the one thing this machine lacks, a CUDA device: the device probes
report one, and the model loads on the CPU while believing it is on CUDA.
"""

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from resources.models import ModelOutOfMemory, TextEncoderResource, WhisperResource
from resources.models.device import GIB, CudaDevice, plan_model
from resources.models.memory import Footprint, FootprintBook, preload_refusal
from resources.models.nvml import GpuMemory
from resources.models.oom import OomLadder, is_out_of_memory
from tests.support.fixtures_models import SpeechClip
from ytingest.offline.smoke_models import SmokeModels
from ytingest.settings import load_settings

CT2_OOM = "CUDA failed with error out of memory"  # CTranslate2's RuntimeError text
TORCH_OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"


@pytest.fixture
def model_env(smoke_models: SmokeModels, monkeypatch: pytest.MonkeyPatch) -> SmokeModels:
    monkeypatch.setenv("WHISPER_MODEL", str(smoke_models.whisper))
    monkeypatch.setenv("EMBEDDING_MODEL", str(smoke_models.text_encoder))
    return smoke_models


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A 16 GiB CUDA device as far as the probes can tell; models still load (and run) on the CPU.

    The returned dict sets what the pre-load check sees as free memory.
    """
    import ctranslate2
    import faster_whisper
    import sentence_transformers

    import resources.models.device as device_module
    import resources.models.session as session_module

    state: dict[str, Any] = {"memory": GpuMemory("fake GPU", 16 * GIB, 15 * GIB)}
    monkeypatch.setattr(device_module, "probe_cuda", lambda library: CudaDevice("fake GPU", 16 * GIB))
    monkeypatch.setattr(session_module, "gpu_memory", lambda: state["memory"])
    monkeypatch.setattr(session_module, "limit_torch_memory", lambda fraction: state.setdefault("fraction", fraction))
    cpu_types = ctranslate2.get_supported_compute_types("cpu")
    monkeypatch.setattr(
        ctranslate2,
        "get_supported_compute_types",
        lambda device: {"float16", "int8_float16", "int8", "float32"} if device == "cuda" else cpu_types,
    )

    class FakeCudaWhisper(faster_whisper.WhisperModel):
        def __init__(self, *args: Any, device: str = "auto", compute_type: str = "default", **kwargs: Any):
            self.requested_device = device
            super().__init__(*args, device="cpu", compute_type="int8", **kwargs)

    class FakeCudaSentenceTransformer(sentence_transformers.SentenceTransformer):
        def __init__(self, *args: Any, device: str | None = None, model_kwargs: Any = None, **kwargs: Any):
            super().__init__(*args, device="cpu", **kwargs)
            self.requested_device = device

    monkeypatch.setattr(faster_whisper, "WhisperModel", FakeCudaWhisper)
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", FakeCudaSentenceTransformer)
    return state


def _whisper_oom_on_cuda(monkeypatch: pytest.MonkeyPatch, seen: list[tuple[str, int]]) -> None:
    """The batched pipeline raises CTranslate2's OOM whenever its model believes it is on CUDA."""
    from faster_whisper import BatchedInferencePipeline

    real = BatchedInferencePipeline.transcribe

    def transcribe(self: BatchedInferencePipeline, audio: Any, *args: Any, batch_size: int = 8, **kwargs: Any) -> Any:
        seen.append((self.model.requested_device, batch_size))
        if self.model.requested_device == "cuda":
            raise RuntimeError(CT2_OOM)
        return real(self, audio, *args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(BatchedInferencePipeline, "transcribe", transcribe)


FAST: dict[str, Any] = {"language": "en", "temperature": 0, "vad_filter": False}


def test_whisper_ctranslate2_oom_fake_gpu_halves_to_1_then_falls_back_to_cpu(
    model_env: SmokeModels, speech_clip: SpeechClip, fake_gpu: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int]] = []
    _whisper_oom_on_cuda(monkeypatch, seen)

    with WhisperResource(batch_size=8).session() as asr:
        assert asr.device == "cuda"
        transcript = asr.transcribe(speech_clip.waveform, **FAST)
        again = asr.transcribe(speech_clip.waveform, **FAST)  # stays on the CPU: no new OOM

    assert seen == [("cuda", 8), ("cuda", 4), ("cuda", 2), ("cuda", 1), ("cpu", 8), ("cpu", 8)]
    assert transcript.device == "cpu" and transcript.batch_size == 8 and again.device == "cpu"
    metadata = asr.metadata()
    assert metadata["whisper/device"] == "cpu"
    # The fake 16 GiB device chose gpu-large's int8_float16, which the CPU cannot run.
    assert (metadata["whisper/profile"], metadata["whisper/compute_type"]) == ("gpu-large", "int8")
    assert "out of memory on cuda at batch size 1 -> cpu" in str(metadata["whisper/choice"])
    assert (
        metadata["whisper/oom_errors"],
        metadata["whisper/batch_halvings"],
        metadata["whisper/cpu_fallbacks"],
        metadata["whisper/retries"],
        metadata["whisper/failures"],
    ) == (4, 3, 1, 4, 0)


def test_whisper_oom_fake_gpu_without_cpu_fallback_fails_the_call_with_its_ladder(
    model_env: SmokeModels, speech_clip: SpeechClip, fake_gpu: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPU_FALLBACK", "false")
    seen: list[tuple[str, int]] = []
    _whisper_oom_on_cuda(monkeypatch, seen)

    with WhisperResource(batch_size=4).session() as asr:
        with pytest.raises(ModelOutOfMemory) as first:
            asr.transcribe(speech_clip.waveform, **FAST)
        with pytest.raises(ModelOutOfMemory) as second:  # the next video starts at the size that last ran
            asr.transcribe(speech_clip.waveform, **FAST)

    # The reason a failed video records: where the ladder stopped, how it got there, why it did not go on,
    # and the library's own exception.
    assert first.value.reason == (
        "whisper: out of memory on cuda at batch size 1 (2 halvings from 4), CPU_FALLBACK is off: "
        "RuntimeError: CUDA failed with error out of memory"
    )
    assert second.value.reason == first.value.reason
    assert seen == [("cuda", 4), ("cuda", 2), ("cuda", 1), ("cuda", 1)]
    metadata = asr.metadata()
    assert (metadata["whisper/batch_halvings"], metadata["whisper/cpu_fallbacks"], metadata["whisper/failures"]) == (
        2,
        0,
        2,
    )
    assert metadata["whisper/oom_errors"] == 4 and metadata["whisper/final_batch_size"] == 1


def test_text_encoder_torch_oom_halves_the_batch_until_it_fits(
    model_env: SmokeModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentence_transformers import SentenceTransformer

    real: Any = SentenceTransformer.encode
    seen: list[int] = []

    def encode(self: SentenceTransformer, inputs: Any, *args: Any, batch_size: int = 32, **kwargs: Any) -> Any:
        seen.append(batch_size)
        if batch_size > 4:
            raise torch.cuda.OutOfMemoryError(TORCH_OOM)
        return real(self, inputs, *args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", encode)
    with TextEncoderResource(batch_size=32).session() as encoder:
        vectors = encoder.encode([f"chunk {i}" for i in range(10)])
        encoder.encode(["the next video starts at the size that fitted"])

    assert seen == [32, 16, 8, 4, 4]
    assert vectors.shape == (10, 384)
    metadata = encoder.metadata()
    assert (metadata["text_encoder/oom_errors"], metadata["text_encoder/batch_halvings"]) == (3, 3)
    assert (metadata["text_encoder/cpu_fallbacks"], metadata["text_encoder/final_batch_size"]) == (0, 4)


def test_text_encoder_torch_oom_fake_gpu_falls_back_to_cpu(
    model_env: SmokeModels, fake_gpu: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentence_transformers import SentenceTransformer

    real: Any = SentenceTransformer.encode
    seen: list[tuple[str, int]] = []

    def encode(self: Any, inputs: Any, *args: Any, batch_size: int = 32, **kwargs: Any) -> Any:
        seen.append((self.requested_device, batch_size))
        if self.requested_device == "cuda":
            raise torch.cuda.OutOfMemoryError(TORCH_OOM)
        return real(self, inputs, *args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", encode)
    monkeypatch.setenv("VRAM_BUDGET_FRACTION", "0.6")
    with TextEncoderResource(batch_size=4).session() as encoder:
        vectors = encoder.encode(["one", "two"])

    assert fake_gpu["fraction"] == 0.6  # torch's allocator was capped at the budget before loading
    assert seen == [("cuda", 4), ("cuda", 2), ("cuda", 1), ("cpu", 4)]
    assert vectors.shape == (2, 384)
    metadata = encoder.metadata()
    assert metadata["text_encoder/device"] == "cpu"
    assert (metadata["text_encoder/batch_halvings"], metadata["text_encoder/cpu_fallbacks"]) == (2, 1)
    assert metadata["text_encoder/oom_errors"] == 3


def test_preload_check_fake_gpu_loads_on_cpu_when_the_budget_would_be_exceeded(
    model_env: SmokeModels, fake_gpu: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6 of 8 GiB in use: MiniLM's weights (90 MB) plus a CUDA context take it past 80%.
    fake_gpu["memory"] = GpuMemory("fake GPU", 8 * GIB, 2 * GIB)
    with TextEncoderResource().session() as encoder:
        encoder.encode(["fits on the CPU"])
    metadata = encoder.metadata()
    assert metadata["text_encoder/device"] == "cpu" and metadata["text_encoder/cpu_fallbacks"] == 1
    assert "pre-load check" in str(metadata["text_encoder/choice"])
    assert "VRAM_BUDGET_FRACTION=0.8" in str(metadata["text_encoder/choice"])

    monkeypatch.setenv("CPU_FALLBACK", "false")
    with TextEncoderResource().session() as encoder:
        with pytest.raises(ModelOutOfMemory, match=r"will not load on cuda.*CPU_FALLBACK is off"):
            encoder.encode(["refused"])


def test_footprints_measured_beat_published_beat_weights_on_disk(tmp_path: Path) -> None:
    book = FootprintBook(tmp_path / "model_footprints.json")
    gpu = CudaDevice("fake GPU", 16 * GIB)
    published = plan_model("whisper", load_settings(model_profile="gpu-small"), gpu, sees_cuda=True)
    assert book.estimate(published, None) == Footprint(int(1.5 * GIB), "published")
    book.record(published, 900 * 2**20)
    assert book.estimate(published, None) == Footprint(900 * 2**20, "measured")

    weights = tmp_path / "custom-model"
    weights.mkdir()
    (weights / "model.bin").write_bytes(b"\0" * 2**20)
    custom = plan_model("whisper", load_settings(whisper_model=str(weights)), gpu, sees_cuda=True)
    estimate = book.estimate(custom, weights)
    assert estimate.source == "weights on disk" and estimate.bytes > 2**20

    busy = GpuMemory("g", 10 * GIB, 4 * GIB)  # 6 of 10 GiB in use
    assert preload_refusal(Footprint(2 * GIB, "published"), busy, 0.8) is None  # 8 GiB: exactly the budget
    assert preload_refusal(Footprint(2 * GIB, "published"), busy, 0.7) == (
        "needs ~2.0 GiB (published); 6.0 of 10.0 GiB already in use; VRAM_BUDGET_FRACTION=0.7 allows 7.0 GiB"
    )


def test_the_real_exception_types_are_recognised() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError(TORCH_OOM))
    assert is_out_of_memory(RuntimeError(CT2_OOM))
    assert is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))
    assert not is_out_of_memory(ModelOutOfMemory("whisper: out of memory on cuda"))


def test_concurrent_oom_steps_the_ladder_down_once_per_failure_level() -> None:
    ladder = OomLadder("whisper", 8, cpu_fallback=False)
    both_failed = threading.Barrier(2)
    sizes: list[int] = []

    def attempt(batch_size: int) -> int:
        sizes.append(batch_size)
        if batch_size == 8:
            both_failed.wait(timeout=5)  # two workers hit the same OOM at the same size
        if batch_size > 2:
            raise torch.cuda.OutOfMemoryError(TORCH_OOM)
        return batch_size

    results: list[int] = []

    def worker() -> None:
        results.append(ladder.run(attempt, on_cuda=lambda: True, free=lambda: None, to_cpu=lambda: None))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [2, 2]
    assert ladder.counts.batch_halvings == 2  # 8 -> 4 -> 2, not once per worker
    assert ladder.batch_size == 2 and ladder.counts.failures == 0
    assert ladder.counts.oom_errors == sum(1 for size in sizes if size > 2)
    assert np.all(np.array(sizes) >= 2)
