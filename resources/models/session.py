"""What every model session shares: lazy load, the pre-load memory check, the OOM ladder, release, metadata.

A session is opened by a resource inside a step (`with resource.session(context) as s:`)
and loads its model on first use; leaving the block drops the model and gives the memory
back, so the next GPU step (in pool `gpu`) starts from a clean device.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import dagster as dg

from resources.models.device import LIBRARY, Device, Kind, ModelPlan
from resources.models.errors import ModelConfigError, ModelError, ModelOutOfMemory, ModelUnavailable, scrub
from resources.models.locate import ModelSource, find_model
from resources.models.memory import (
    FootprintBook,
    gpu_memory,
    limit_torch_memory,
    preload_refusal,
    release_memory,
    rss_bytes,
)
from resources.models.oom import Logger, OomLadder
from resources.models.telemetry import MetadataValue, Telemetry
from ytingest.settings import Settings, get_settings, load_settings

M = TypeVar("M")
T = TypeVar("T")
_MB = 2**20


def settings_with(**overrides: Any) -> Settings:
    """The process settings, with a resource's non-None fields in place of the matching variables.

    Overrides go through the same validation as the environment, so a bad value names its variable.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    return load_settings(**given) if given else get_settings()


S = TypeVar("S", bound="ModelSession[Any]")


def start_session(context: Any | None, make: Callable[[], S]) -> S:
    """`make()`; inside a step, a model that cannot be found fails the step at its start with the one-line
    reason (naming the setting and the fix), not a traceback, and is not retried."""
    try:
        return make()
    except ModelConfigError as exc:
        if context is None:
            raise
        raise dg.Failure(description=exc.reason, allow_retries=False) from None


def step_logger(context: Any | None) -> Logger:
    """The step's Dagster log when there is a context, so choices show on the run page."""
    return context.log if context is not None else logging.getLogger("ytingest.models")


class ModelSession(abc.ABC, Generic[M]):
    kind: ClassVar[Kind]
    # What loading and running the model imports: worth preloading in a forkserver, since
    # each step process would otherwise import it again (pyannote: ~5 s, 840 modules).
    modules: ClassVar[tuple[str, ...]]

    def __init__(self, settings: Settings, log: Logger, batch_size: int):
        self.settings = settings
        self.log = log
        # Found now, not at first use: a missing model fails the step before any work.
        found = find_model(self.kind, settings)
        self.plan: ModelPlan = found[0]
        self.source: ModelSource = found[1]
        self.device: Device = self.plan.device
        self.device_reason = self.plan.reason
        self.telemetry = Telemetry()
        self.ladder = OomLadder(self.kind, batch_size, cpu_fallback=settings.cpu_fallback, log=log)
        self._book = FootprintBook(settings.data_dir / "model_footprints.json")
        self._model: M | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._rss_released: int | None = None
        log.info(
            "%s: %s%s from %s on %s (%s)",
            self.kind,
            self.plan.name,
            "" if self.source.real else " (SMOKE BUILD: random weights)",
            self.source.label,
            self.device,
            self.plan.reason,
        )

    # --- per model --------------------------------------------------------------------------
    @abc.abstractmethod
    def _load(self, device: Device) -> M:
        """Load the model on `device` and return it."""

    # --- shared -----------------------------------------------------------------------------
    def loaded(self) -> M:
        """The model, loaded on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.kind} session is closed")
            if self._model is None:
                try:
                    self._model = self._open()
                except ModelError:
                    raise
                except Exception as exc:
                    token = self.settings.hf_token.get_secret_value() if self.settings.hf_token else None
                    first = scrub((str(exc).strip().splitlines() or [""])[0][:300], token)
                    raise ModelUnavailable(
                        f"{self.kind}: {self.plan.name} did not load from {self.source.label}: {type(exc).__name__}: {first}"
                    ) from exc
            return self._model

    def _open(self) -> M:
        if self.device == "cuda":
            self._check_fits()  # may move the model to the CPU
        if self.device == "cuda":
            self.telemetry.watch_gpu()
            if LIBRARY[self.kind] == "torch":
                limit_torch_memory(self.settings.vram_budget_fraction)
        with self.telemetry.loading():
            model = self._load(self.device)
        self.log.info("%s: loaded on %s in %.2fs", self.kind, self.device, self.telemetry.load_seconds)
        return model

    def _check_fits(self) -> None:
        memory = gpu_memory()
        if memory is None:
            return  # size unknown: the OOM ladder still protects the step
        footprint = self._book.estimate(self.plan, self.source.path)
        refusal = preload_refusal(footprint, memory, self.settings.vram_budget_fraction)
        if refusal is None:
            return
        if not self.settings.cpu_fallback:
            raise ModelOutOfMemory(f"{self.kind}: will not load on cuda: {refusal}; CPU_FALLBACK is off")
        self.ladder.counts.cpu_fallbacks += 1
        self.device = "cpu"
        self.device_reason += f"; pre-load check: {refusal} -> cpu"
        self.log.warning("%s: %s; loading on the CPU instead", self.kind, refusal)

    def _fall_back_to_cpu(self) -> None:
        # The CPU copy is loaded before the GPU one is dropped, so a concurrent call never finds no model.
        with self.telemetry.loading():
            replacement = self._load("cpu")
        with self._lock:
            self._model = replacement
            self.device = "cpu"
        self.device_reason += "; out of memory on cuda at batch size 1 -> cpu"
        release_memory()

    def infer(self, attempt: Callable[[M, int], T], *, batched: bool = True) -> T:
        """`attempt(model, batch_size)` under the OOM ladder; `batched=False` when it has no batch to halve."""
        with self.telemetry.inferring():
            return self.ladder.run(
                lambda batch_size: attempt(self.loaded(), batch_size),
                on_cuda=lambda: self.device == "cuda",
                free=release_memory,
                to_cpu=self._fall_back_to_cpu,
                halvable=batched,
            )

    def close(self) -> None:
        """Drop the model and give its memory back; record its measured CUDA footprint for the next check."""
        with self._lock:
            self._closed = True
            self._model = None
        self.telemetry.stop()
        growth = self.telemetry.vram_growth_bytes()
        if growth:
            self._book.record(self.plan, growth)
        release_memory()
        self._rss_released = rss_bytes()
        self.log.info("%s: released; %s", self.kind, self.metadata())

    def metadata(self) -> dict[str, MetadataValue]:
        """Choice, reasons, OOM counts and telemetry, keyed `<kind>/<name>` for materialisation metadata."""
        data: dict[str, MetadataValue] = {
            **self.plan.metadata(),
            "device": self.device,
            "choice": self.device_reason,
            "source": self.source.label,
            "weights": (self.source.provenance or "real") if self.source.real else "smoke build (random)",
            "batch_size": self.ladder.initial_batch_size,
            "final_batch_size": self.ladder.batch_size,
            **self.ladder.counts.metadata(),
            **self.telemetry.metadata(),
        }
        if self._rss_released is not None:
            data["rss_after_release_mb"] = round(self._rss_released / _MB, 1)
        return {f"{self.kind}/{key}": value for key, value in data.items()}
