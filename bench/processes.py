"""RSS of Dagster's step processes, sampled from outside: no hook in the steps themselves.

The multiprocess executor forks every step from its forkserver, so the step processes are exactly the
forkserver's children among this process's descendants.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

_MB = 2**20


@dataclass(frozen=True)
class Sample:
    at: float  # time.time(), comparable with Dagster event timestamps
    pid: int
    rss_mb: float


def step_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if any("forkserver" in part for part in process.cmdline()):
                found.extend(process.children())
        except psutil.Error:
            continue
    return found


def _rss_mb(process: psutil.Process) -> float | None:
    try:
        return process.memory_info().rss / _MB
    except psutil.Error:
        return None


@dataclass(eq=False)  # a Thread must stay hashable
class StepSampler(threading.Thread):
    """Samples every step process's RSS every `interval` s; `on_tick` runs after each round."""

    interval: float = 0.2
    on_tick: Callable[[list[Sample]], None] | None = None
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True, name="step-rss")
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            now = time.time()
            round_ = [Sample(now, p.pid, rss) for p in step_processes() if (rss := _rss_mb(p)) is not None]
            self.samples.extend(round_)
            if self.on_tick is not None:
                self.on_tick(round_)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def peak_by_interval(samples: list[Sample], intervals: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Highest step-process RSS seen inside each named (start, end) interval."""
    peaks = {}
    for name, (start, end) in intervals.items():
        inside = [s.rss_mb for s in samples if start <= s.at <= end]
        if inside:
            peaks[name] = round(max(inside), 1)
    return peaks
