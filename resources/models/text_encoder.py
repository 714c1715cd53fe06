"""sentence-transformers as a Dagster resource: normalised text embeddings of a known size.

EMBEDDING_DIMENSIONS is checked against the loaded model before any vector is returned,
because a pgvector column of the wrong size would reject every row later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np

from resources.models.device import Device
from resources.models.errors import ModelConfigError, scrub
from resources.models.session import (
    ModelSession,
    settings_with,
    start_session,
    step_logger,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

QUERY_PROMPT = "query"  # the prompt name sentence-transformers models give their query instruction


class TextEncoderSession(ModelSession["SentenceTransformer"]):
    kind = "text_encoder"
    modules = ("sentence_transformers",)

    def _load(self, device: Device) -> SentenceTransformer:
        import torch
        from sentence_transformers import SentenceTransformer

        # Half precision on CUDA halves the footprint (gte-Qwen2-1.5B: 6.6 -> 3.3 GiB of weights).
        model_kwargs = {"dtype": torch.float16} if device == "cuda" else None
        if self.source.path is not None:
            # A str, not a Path: sentence-transformers only treats a str as a local directory.
            model = SentenceTransformer(
                str(self.source.path), device=device, model_kwargs=model_kwargs, local_files_only=True
            )
        else:
            token = self.settings.hf_token.get_secret_value() if self.settings.hf_token else None
            try:
                model = SentenceTransformer(
                    str(self.source.hub_id), device=device, model_kwargs=model_kwargs, token=token
                )
            except Exception as exc:  # noqa: BLE001 - re-raised without the token, which may be in the text
                raise ModelConfigError(
                    f"EMBEDDING_MODEL: cannot download {self.source.hub_id}: {scrub(str(exc), token)}"
                ) from None
        produced = model.get_embedding_dimension()
        expected = self.settings.embedding_dimensions
        if expected is not None and produced != expected:
            raise ModelConfigError(
                f"EMBEDDING_DIMENSIONS={expected}, but {self.plan.name} produces {produced}-dimensional embeddings; "
                f"set EMBEDDING_DIMENSIONS={produced} or choose another EMBEDDING_MODEL"
            )
        return model

    @property
    def dimensions(self) -> int:
        """The embedding size (loads the model)."""
        size = self.loaded().get_embedding_dimension()
        assert size is not None
        return size

    def encode_query(self, query: str) -> np.ndarray:
        """A search query's unit-length embedding, with the model's query prompt where it has one
        (gte-Qwen2-instruct's retrieval instruction; MiniLM has none and embeds the bare text)."""
        return self.encode([query], prompt_name=QUERY_PROMPT)[0]

    def encode(self, texts: Sequence[str], *, prompt_name: str | None = None) -> np.ndarray:
        """Unit-length float32 embeddings, (texts, dimensions); `prompt_name` picks one of the model's prompts
        (e.g. "query" for gte-Qwen2 queries; documents take none), and is not used by a model without it."""
        items = list(texts)
        if not items:
            return np.empty((0, self.dimensions), dtype=np.float32)

        def attempt(model: SentenceTransformer, batch_size: int) -> np.ndarray:
            vectors = model.encode(
                items,
                batch_size=batch_size,
                prompt_name=prompt_name if prompt_name in model.prompts else None,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(vectors, dtype=np.float32)

        return self.infer(attempt)


class TextEncoderResource(dg.ConfigurableResource):
    """sentence-transformers. Fields left None come from EMBEDDING_MODEL, EMBEDDING_DEVICE,
    EMBEDDING_DIMENSIONS and EMBEDDING_BATCH_SIZE (and MODEL_PROFILE)."""

    model: str | None = None
    device: str | None = None
    dimensions: int | None = None
    batch_size: int | None = None

    @contextlib.contextmanager
    def session(self, context: Any | None = None) -> Iterator[TextEncoderSession]:
        settings = settings_with(
            embedding_model=self.model,
            embedding_device=self.device,
            embedding_dimensions=self.dimensions,
            embedding_batch_size=self.batch_size,
        )
        session = start_session(
            context, lambda: TextEncoderSession(settings, step_logger(context), settings.embedding_batch_size)
        )
        try:
            yield session
        finally:
            session.close()
