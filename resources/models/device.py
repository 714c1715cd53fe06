"""Which model runs where: MODEL_PROFILE, the per-model settings, and the reason for each choice.

A choice always comes with a human reason, logged and put in materialisation metadata,
so a run's page says why it used (say) medium.en on the CPU.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from typing import Final, Literal, cast

from resources.models.errors import ModelConfigError
from resources.models.nvml import open_nvml
from ytingest.offline.smoke_models import MINILM
from ytingest.settings import Settings

Kind = Literal["whisper", "diarization", "voice", "text_encoder"]
Profile = Literal["cpu", "gpu-small", "gpu-large"]
Device = Literal["cuda", "cpu"]
Library = Literal["ctranslate2", "torch"]

GIB: Final = 2**30
# The seed kept its large set for "16 GB+" cards. Nominal 16 GB cards report 15.0-15.9 GiB
# (T4 15.0, V100 15.8), so the line sits at 15 GiB.
LARGE_PROFILE_MIN_BYTES: Final = 15 * GIB

GTE_QWEN2: Final = "Alibaba-NLP/gte-Qwen2-1.5B-instruct"
DIARIZATION_DEFAULT: Final = "pyannote/speaker-diarization-community-1"
VOICE_DEFAULT: Final = "speechbrain/spkrec-ecapa-voxceleb"

# gpu-small is the seed's reduced set, gpu-large its 16 GB+ set; cpu is gpu-small's models
# on the CPU, the seed's "slower but guaranteed to work" rollback.
_PROFILE_MODELS: Final[dict[Profile, dict[Kind, str]]] = {
    "cpu": {"whisper": "medium.en", "text_encoder": MINILM},
    "gpu-small": {"whisper": "medium.en", "text_encoder": MINILM},
    "gpu-large": {"whisper": "distil-large-v3", "text_encoder": GTE_QWEN2},
}
_SHARED_MODELS: Final[dict[Kind, str]] = {"diarization": DIARIZATION_DEFAULT, "voice": VOICE_DEFAULT}
_WHISPER_COMPUTE: Final[dict[Profile, str]] = {"cpu": "int8", "gpu-small": "int8", "gpu-large": "int8_float16"}

VARIABLES: Final[dict[Kind, tuple[str, str]]] = {
    "whisper": ("WHISPER_MODEL", "WHISPER_DEVICE"),
    "diarization": ("DIARIZATION_MODEL", "DIARIZATION_DEVICE"),
    "voice": ("VOICE_MODEL", "VOICE_DEVICE"),
    "text_encoder": ("EMBEDDING_MODEL", "EMBEDDING_DEVICE"),
}
LIBRARY: Final[dict[Kind, Library]] = {
    "whisper": "ctranslate2",
    "diarization": "torch",
    "voice": "torch",
    "text_encoder": "torch",
}


@dataclass(frozen=True)
class CudaDevice:
    name: str
    total_bytes: int


@dataclass(frozen=True)
class ModelPlan:
    """One model's name, device and (Whisper only) compute type, with the reasons."""

    kind: Kind
    name: str
    device: Device
    profile: Profile
    compute: str | None
    reason: str

    def metadata(self) -> dict[str, str]:
        data = {"model": self.name, "device": self.device, "profile": self.profile, "choice": self.reason}
        if self.compute is not None:
            data["compute_type"] = self.compute
        return data


def choose_profile(setting: str, gpu: CudaDevice | None) -> tuple[Profile, str]:
    """MODEL_PROFILE, with `auto` decided by the CUDA device's total memory; and why."""
    if setting in ("cpu", "gpu-small", "gpu-large"):
        return cast(Profile, setting), f"MODEL_PROFILE={setting}"
    if gpu is None:
        return "cpu", "MODEL_PROFILE=auto: no CUDA device -> cpu"
    size = f"{gpu.name} has {gpu.total_bytes / GIB:.1f} GiB"
    line = f"{LARGE_PROFILE_MIN_BYTES // GIB} GiB"
    if gpu.total_bytes >= LARGE_PROFILE_MIN_BYTES:
        return "gpu-large", f"MODEL_PROFILE=auto: {size} (>= {line}) -> gpu-large"
    return "gpu-small", f"MODEL_PROFILE=auto: {size} (< {line}) -> gpu-small"


def choose_device(kind: Kind, setting: str, profile: Profile, sees_cuda: bool) -> tuple[Device, str]:
    """`cuda` when the model's library sees it, unless its setting or the cpu profile says `cpu`; and why."""
    variable = VARIABLES[kind][1]
    library = LIBRARY[kind]
    if setting == "cpu":
        return "cpu", f"{variable}=cpu"
    if setting == "cuda":
        if not sees_cuda:
            raise ModelConfigError(f"{variable}=cuda, but {library} sees no CUDA device; set {variable}=auto or cpu")
        return "cuda", f"{variable}=cuda"
    if profile == "cpu":
        return "cpu", f"{variable}=auto, profile cpu -> cpu"
    if sees_cuda:
        return "cuda", f"{variable}=auto, CUDA visible to {library} -> cuda"
    return "cpu", f"{variable}=auto, no CUDA device visible to {library} -> cpu"


def plan_model(kind: Kind, settings: Settings, gpu: CudaDevice | None, sees_cuda: bool) -> ModelPlan:
    """The model, device and compute type for `kind`: the profile's, unless a setting overrides it."""
    profile, profile_reason = choose_profile(settings.model_profile, gpu)
    model_variable, device_variable = VARIABLES[kind]
    configured: str | None = getattr(settings, model_variable.lower())
    if configured:
        name, name_reason = configured, f"{model_variable}={configured}"
    else:
        name = _PROFILE_MODELS[profile].get(kind) or _SHARED_MODELS[kind]
        name_reason = f"{model_variable} unset -> {profile}'s {name}"
    device, device_reason = choose_device(kind, getattr(settings, device_variable.lower()), profile, sees_cuda)
    reasons = [profile_reason, name_reason, device_reason]
    compute: str | None = None
    if kind == "whisper":
        if settings.whisper_compute:
            compute = settings.whisper_compute
            reasons.append(f"WHISPER_COMPUTE={compute}")
        else:
            # A GPU profile's float16 compute types do not run on the CPU.
            compute = _WHISPER_COMPUTE["cpu" if device == "cpu" else profile]
            reasons.append(f"WHISPER_COMPUTE unset -> {compute}")
    return ModelPlan(kind=kind, name=name, device=device, profile=profile, compute=compute, reason="; ".join(reasons))


@functools.cache
def cuda_driver_loads() -> bool:
    """Whether the CUDA driver's library loads. Without it no library can see a device, and asking torch
    would cost its import (seconds) to learn that on every CPU-only machine."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def library_sees_cuda(library: Library) -> bool:
    if not cuda_driver_loads():
        return False
    if library == "ctranslate2":
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    import torch

    return torch.cuda.is_available()


def probe_cuda(library: Library) -> CudaDevice | None:
    """The CUDA device `library` would use, or None; importing torch only when there is a CUDA driver and
    torch is that library or NVML is missing."""
    if not library_sees_cuda(library):
        return None
    nvml = open_nvml()
    if nvml is not None:
        memory = nvml.memory()
        return CudaDevice(memory.name, memory.total_bytes)
    import torch

    if not torch.cuda.is_available():
        return None
    properties = torch.cuda.get_device_properties(0)
    return CudaDevice(properties.name, properties.total_memory)


def resolve_plan(kind: Kind, settings: Settings) -> ModelPlan:
    library = LIBRARY[kind]
    gpu = probe_cuda(library)
    return plan_model(kind, settings, gpu, sees_cuda=gpu is not None)
