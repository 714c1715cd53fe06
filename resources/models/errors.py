"""What can go wrong with a model, as exceptions an asset can record per video."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model could not be loaded or run; `reason` is fit for the failures table and logs."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ModelConfigError(ModelError):
    """A setting points at a model, device or size that cannot work; the message names the variable."""


class ModelUnavailable(ModelError):
    """The model was found but did not load (corrupt or incompatible files): every video would fail the same
    way, so the step fails instead of each video."""


class ModelOutOfMemory(ModelError):
    """Out of memory even at batch size 1 with no CPU fallback left: fail this video, not the step."""


def scrub(text: str, secret: str | None) -> str:
    """`text` with the secret removed, for errors raised by libraries that were handed a token."""
    if not secret:
        return text
    return text.replace(secret, "***")
