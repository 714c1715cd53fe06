"""What a model step cost: load and inference time, peak VRAM, GPU utilisation, peak RSS.

Peak VRAM is read from the driver (NVML) because CTranslate2's allocations are invisible
to torch; without NVML it falls back to torch's own counter and says so. GPU utilisation
is sampled in a background thread only while an inference is running, so idle time
between videos does not dilute it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from typing import Final

from resources.models.nvml import Nvml, open_nvml

MetadataValue = float | int | str
_SAMPLE_SECONDS: Final = 0.2
_MB: Final = 2**20


class Telemetry:
    def __init__(self) -> None:
        self.load_seconds = 0.0
        self.inference_seconds = 0.0  # wall time with at least one inference running
        self.inference_calls = 0
        self._lock = threading.Lock()
        self._active = 0
        self._busy_since = 0.0
        self._watching = False
        self._nvml: Nvml | None = None
        self._vram_source = "not on GPU"
        self._vram_start: int | None = None
        self._vram_peak = 0
        self._utilisation: list[int] = []
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    # --- GPU sampling ----------------------------------------------------------------------
    def watch_gpu(self) -> None:
        """Start sampling VRAM and utilisation; called when a model is about to go on CUDA."""
        if self._watching:
            return
        self._watching = True
        self._nvml = open_nvml()
        if self._nvml is None:
            self._vram_source = "torch (excludes CTranslate2)"
            return
        self._vram_start = self._vram_now()
        self._sampler = threading.Thread(target=self._sample_loop, name="gpu-telemetry", daemon=True)
        self._sampler.start()

    def _vram_now(self) -> int:
        assert self._nvml is not None
        used = self._nvml.process_used_bytes(os.getpid())
        if used is not None:
            self._vram_source = "nvml process"
            return used
        # In another PID namespace the driver cannot tell us apart: count the whole device.
        self._vram_source = "nvml device (all processes)"
        return self._nvml.memory().used_bytes

    def _sample(self) -> None:
        assert self._nvml is not None
        vram = self._vram_now()
        with self._lock:
            self._vram_peak = max(self._vram_peak, vram)
            if self._active:
                self._utilisation.append(self._nvml.utilisation_pct())

    def _sample_loop(self) -> None:
        while not self._stop.wait(_SAMPLE_SECONDS):
            self._sample()

    def stop(self) -> None:
        """Take a last sample and end the sampler thread."""
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            self._sampler = None
            self._sample()

    # --- timing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.load_seconds += time.perf_counter() - started
            if self._nvml is not None:
                self._sample()

    @contextlib.contextmanager
    def inferring(self) -> Iterator[None]:
        with self._lock:
            self.inference_calls += 1
            self._active += 1
            if self._active == 1:
                self._busy_since = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self.inference_seconds += time.perf_counter() - self._busy_since

    # --- results -------------------------------------------------------------------------
    def vram_growth_bytes(self) -> int | None:
        """VRAM this session added to the process at its peak: the model's measured footprint."""
        if self._vram_start is None or not self._vram_peak:
            return None
        return max(0, self._vram_peak - self._vram_start)

    def metadata(self) -> dict[str, MetadataValue]:
        data: dict[str, MetadataValue] = {
            "load_seconds": round(self.load_seconds, 3),
            "inference_seconds": round(self.inference_seconds, 3),
            "inference_calls": self.inference_calls,
            # ru_maxrss: this process's high-water mark; with the multiprocess executor, the step's own.
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _MB, 1),
            "vram_source": self._vram_source,
        }
        if self._nvml is not None:
            data["peak_vram_mb"] = round(self._vram_peak / _MB, 1)
            if self._utilisation:
                data["gpu_utilisation_mean_pct"] = round(sum(self._utilisation) / len(self._utilisation), 1)
                data["gpu_utilisation_samples"] = len(self._utilisation)
        elif self._vram_source.startswith("torch"):
            torch = sys.modules.get("torch")
            if torch is not None and torch.cuda.is_initialized():
                data["peak_vram_mb"] = round(torch.cuda.max_memory_reserved(0) / _MB, 1)
        return data
