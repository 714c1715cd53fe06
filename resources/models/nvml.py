"""The GPU as its driver sees it, through NVML.

CTranslate2 allocates outside torch's allocator, so only the driver knows how much VRAM
a process really holds. NVML also answers without creating a CUDA context (which would
cost the process hundreds of MB). `pynvml` comes from the optional `nvidia-ml-py`
package; without it, or without a driver, `open_nvml()` is None and callers degrade.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuMemory:
    name: str
    total_bytes: int
    free_bytes: int

    @property
    def used_bytes(self) -> int:
        return self.total_bytes - self.free_bytes


class Nvml:
    """The device CUDA calls `cuda:0` in this process."""

    def __init__(self, pynvml: Any, handle: Any):
        self._nvml = pynvml
        self._handle = handle

    def memory(self) -> GpuMemory:
        info = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
        name = self._nvml.nvmlDeviceGetName(self._handle)
        return GpuMemory(
            name=name.decode() if isinstance(name, bytes) else name, total_bytes=info.total, free_bytes=info.free
        )

    def process_used_bytes(self, pid: int) -> int | None:
        """VRAM held by `pid`; None when the driver does not list it (another PID namespace, e.g. a container)."""
        for process in self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle):
            if process.pid == pid:
                return int(process.usedGpuMemory or 0)
        return None

    def utilisation_pct(self) -> int:
        return int(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)


def _visible_device(pynvml: Any) -> Any | None:
    # NVML numbers devices physically and ignores CUDA_VISIBLE_DEVICES; CUDA's device 0 is
    # that variable's first entry, given as an index or a UUID.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return pynvml.nvmlDeviceGetHandleByIndex(0) if pynvml.nvmlDeviceGetCount() > 0 else None
    first = visible.split(",")[0].strip()
    if not first or first == "-1":
        return None
    if first.isdigit():
        return pynvml.nvmlDeviceGetHandleByIndex(int(first))
    return pynvml.nvmlDeviceGetHandleByUUID(first)


@functools.cache
def open_nvml() -> Nvml | None:
    """NVML for this process's CUDA device 0, or None (no nvidia-ml-py, no driver, no visible device)."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = _visible_device(pynvml)
    except pynvml.NVMLError as exc:
        log.debug("NVML unavailable: %s", exc)
        return None
    return None if handle is None else Nvml(pynvml, handle)
