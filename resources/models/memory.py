"""Memory: how much a model needs, whether it fits before loading, and giving it back after.

Footprints start from published figures and are replaced by what this machine measured
the last time the model ran (kept in DATA_DIR/model_footprints.json, because each GPU
step runs in its own short-lived process).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from resources.models.device import GIB, ModelPlan
from resources.models.nvml import GpuMemory, open_nvml

log = logging.getLogger(__name__)

# VRAM of a loaded model at its default batch size, CUDA context included, by the last part
# of its name (so a copy in MODELS_DIR/<name> or any directory of that name matches too).
_PUBLISHED: Final[dict[str, int]] = {
    # The seed's table: ~1.5 GB for medium.en int8, ~3 GB for distil-large-v3, ~0.5 GB for MiniLM.
    "medium.en": int(1.5 * GIB),
    "distil-large-v3": 3 * GIB,
    "all-MiniLM-L6-v2": GIB // 2,
    # 1.78 B parameters in float16 (3.3 GiB), which is how it loads on CUDA here, plus activations.
    "gte-Qwen2-1.5B-instruct": int(4.5 * GIB),
    # segmentation-3.0 (1.5 M) and WeSpeaker ResNet34 (6.6 M parameters): mostly context and activations.
    "speaker-diarization-community-1": GIB,
    "spkrec-ecapa-voxceleb": GIB // 2,
}
_CUDA_CONTEXT: Final = GIB // 2
_UNKNOWN: Final = 2 * GIB


@dataclass(frozen=True)
class Footprint:
    bytes: int
    source: str  # "measured", "published", "weights on disk" or "unknown model"


def footprint_key(plan: ModelPlan) -> str:
    return f"{plan.kind}:{plan.name}:{plan.compute or 'default'}"


class FootprintBook:
    """Measured CUDA footprints, by model, device setting and compute type, shared by all step processes."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def estimate(self, plan: ModelPlan, model_dir: Path | None) -> Footprint:
        measured = self._read().get(footprint_key(plan))
        if measured:
            return Footprint(measured, "measured")
        published = _PUBLISHED.get(Path(plan.name).name) or (model_dir and _PUBLISHED.get(model_dir.name))
        if published:
            return Footprint(published, "published")
        if model_dir is not None:
            weights = sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file())
            # Weights plus half again for activations, plus the CUDA context.
            return Footprint(int(weights * 1.5) + _CUDA_CONTEXT, "weights on disk")
        return Footprint(_UNKNOWN, "unknown model")

    def record(self, plan: ModelPlan, measured_bytes: int) -> None:
        # Read-modify-write without a lock: GPU steps run one at a time (pool `gpu`), and a
        # lost measurement only means the next step starts from the older figure.
        data = self._read()
        data[footprint_key(plan)] = int(measured_bytes)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(partial, self.path)


def gpu_memory() -> GpuMemory | None:
    """Free and total memory of CUDA device 0, from NVML or else from torch."""
    nvml = open_nvml()
    if nvml is not None:
        return nvml.memory()
    if "torch" not in sys.modules:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(0)
    return GpuMemory(name=torch.cuda.get_device_name(0), total_bytes=total, free_bytes=free)


def preload_refusal(footprint: Footprint, memory: GpuMemory, budget_fraction: float) -> str | None:
    """Why loading would take the device past VRAM_BUDGET_FRACTION, or None when it fits."""
    budget = budget_fraction * memory.total_bytes
    after = memory.used_bytes + footprint.bytes
    if after <= budget:
        return None
    return (
        f"needs ~{footprint.bytes / GIB:.1f} GiB ({footprint.source}); {memory.used_bytes / GIB:.1f} of "
        f"{memory.total_bytes / GIB:.1f} GiB already in use; VRAM_BUDGET_FRACTION={budget_fraction:g} allows "
        f"{budget / GIB:.1f} GiB"
    )


def limit_torch_memory(budget_fraction: float) -> None:
    """Cap torch's caching allocator so a torch model hits OOM (and the ladder) before the budget is exceeded."""
    import torch

    torch.cuda.set_per_process_memory_fraction(budget_fraction, 0)


def _malloc_trim() -> None:
    # glibc keeps freed heap pages; only malloc_trim hands them back to the OS (measured: del + gc alone
    # leave RSS where it was).
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def release_memory() -> None:
    """After the last reference to a model is dropped: collect, empty torch's CUDA cache, trim the heap."""
    gc.collect()
    torch = sys.modules.get("torch")  # never imported just to release: that alone costs ~500 MB
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    _malloc_trim()


def rss_bytes() -> int:
    return psutil.Process().memory_info().rss
