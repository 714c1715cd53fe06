"""Where a model's files are: a directory, MODELS_DIR/<name>, or (only when online) the Hugging Face hub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resources.models.errors import ModelConfigError


@dataclass(frozen=True)
class ModelSource:
    path: Path | None  # a local directory, or None to load `hub_id` from the hub
    hub_id: str | None

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else f"hub:{self.hub_id}"


def hub_offline() -> bool:
    # The constant the libraries themselves consult, read once at import from HF_HUB_OFFLINE.
    import huggingface_hub.constants

    return bool(huggingface_hub.constants.HF_HUB_OFFLINE)


def locate(variable: str, name: str, models_dir: Path | None, marker: str, hub_id: str | None) -> ModelSource:
    """Resolve the value of `variable`; `marker` is the file every valid directory holds.

    `hub_id` is None when `name` is neither a hub repository nor an alias the library knows.
    """
    given = Path(name).expanduser()
    if given.is_dir() or given.is_absolute() or name.startswith((".", "~")):
        return ModelSource(path=_checked_dir(variable, given, marker), hub_id=None)
    local = models_dir / name if models_dir is not None else None
    if local is not None and local.is_dir():
        return ModelSource(path=_checked_dir(variable, local, marker), hub_id=None)
    if hub_id is None:
        raise ModelConfigError(
            f"{variable}: unknown model {name!r}: not a directory{_under(local)} and not a Hugging Face "
            "repository id (owner/name)"
        )
    if hub_offline():
        raise ModelConfigError(
            f"{variable}: {name!r} is not a local model directory{_under(local)} and the Hugging Face hub is "
            f"offline (HF_HUB_OFFLINE); run `ytingest models fetch` where online, or set {variable} to a directory"
        )
    return ModelSource(path=None, hub_id=hub_id)


def _under(local: Path | None) -> str:
    return f" (looked for {local})" if local is not None else " (MODELS_DIR is unset)"


def _checked_dir(variable: str, path: Path, marker: str) -> Path:
    if not path.is_dir():
        raise ModelConfigError(f"{variable}: {path} is not a directory")
    if not (path / marker).is_file():
        raise ModelConfigError(f"{variable}: {path} is not a model directory of this kind (no {marker} in it)")
    return path.resolve()


def hub_repository(name: str) -> str | None:
    """`name` if it has the owner/name form of a hub repository, else None."""
    parts = name.split("/")
    return name if len(parts) == 2 and all(parts) else None
