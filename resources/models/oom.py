"""The out-of-memory ladder: free, halve the batch down to 1, then the CPU if allowed, else fail the video.

One ladder per model session, shared by its calls and threads, so a batch size that ran
out of memory once is not tried again for the next video. Every step is counted for the
materialisation metadata.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from resources.models.errors import ModelError, ModelOutOfMemory

T = TypeVar("T")


class Logger(Protocol):
    """logging.Logger or Dagster's context.log."""

    def info(self, msg: str, *args: object) -> None: ...

    def warning(self, msg: str, *args: object) -> None: ...


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError, or CTranslate2's RuntimeError ("CUDA failed with error out of memory")."""
    if isinstance(exc, ModelError):
        return False
    torch = sys.modules.get("torch")  # an exception from torch implies torch is imported
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    message = str(exc)
    # cuBLAS reports a failed workspace allocation in its own words.
    return "out of memory" in message.lower() or "CUBLAS_STATUS_ALLOC_FAILED" in message


@dataclass
class OomCounts:
    oom_errors: int = 0
    retries: int = 0
    batch_halvings: int = 0
    cpu_fallbacks: int = 0  # out-of-memory fallbacks and pre-load refusals alike
    failures: int = 0

    def metadata(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class OomLadder:
    def __init__(self, kind: str, batch_size: int, *, cpu_fallback: bool, log: Logger | None = None):
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        self.kind = kind
        self.initial_batch_size = batch_size
        self.batch_size = batch_size
        self.cpu_fallback = cpu_fallback
        self.counts = OomCounts()
        self._log: Logger = log or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._generation = 0  # bumped at every step down, so concurrent failures step only once

    def run(
        self,
        attempt: Callable[[int], T],
        *,
        on_cuda: Callable[[], bool],
        free: Callable[[], None],
        to_cpu: Callable[[], None],
        halvable: bool = True,
    ) -> T:
        """`attempt(batch_size)` until it returns, stepping down the ladder at each out-of-memory error.

        `halvable=False` for a call with no batch to shrink: it goes straight to the CPU step.
        """
        while True:
            with self._lock:
                batch_size, generation = self.batch_size, self._generation
            try:
                return attempt(batch_size)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                self._step_down(exc, generation, halvable, on_cuda=on_cuda, free=free, to_cpu=to_cpu)

    def _step_down(
        self,
        exc: Exception,
        generation: int,
        halvable: bool,
        *,
        on_cuda: Callable[[], bool],
        free: Callable[[], None],
        to_cpu: Callable[[], None],
    ) -> None:
        with self._lock:
            self.counts.oom_errors += 1
            free()
            if generation != self._generation:
                self.counts.retries += 1  # another call already stepped down since this one began
                return
            device = "cuda" if on_cuda() else "cpu"
            if halvable and self.batch_size > 1:
                self.batch_size //= 2
                self.counts.batch_halvings += 1
                self.counts.retries += 1
                self._generation += 1
                self._log.warning(
                    "%s: out of memory on %s; retrying at batch size %d", self.kind, device, self.batch_size
                )
                return
            if device == "cuda" and self.cpu_fallback:
                to_cpu()
                # CPU memory is not the GPU's: start again from the configured batch size.
                self.batch_size = self.initial_batch_size
                self.counts.cpu_fallbacks += 1
                self.counts.retries += 1
                self._generation += 1
                self._log.warning("%s: out of memory on cuda at the smallest batch; continuing on the CPU", self.kind)
                return
            self.counts.failures += 1
            why = "CPU_FALLBACK is off" if device == "cuda" else "already on the CPU"
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            at = f"batch size {self.batch_size}" if halvable else "an unbatched call"
            raise ModelOutOfMemory(
                f"{self.kind}: out of memory on {device} at {at} "
                f"({self.counts.batch_halvings} halvings from {self.initial_batch_size}), {why}: "
                f"{type(exc).__name__}: {detail}"
            ) from exc
