"""`ytingest models smoke DIR` and `ytingest models fetch`: the models, offline or from the hub."""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from resources.models.device import VARIABLES, Kind, plan_model, resolve_plan
from resources.models.errors import ModelConfigError, scrub
from resources.models.locate import hub_offline, hub_repository
from ytingest.settings import Settings, get_settings

# faster-whisper's own download filter: the CTranslate2 weights and what loads them.
_WHISPER_FILES: Final = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]
_GATED_OWNERS: Final = ("pyannote/",)
_KINDS: Final[tuple[Kind, ...]] = ("whisper", "diarization", "voice", "text_encoder")


def _fail(message: str) -> int:
    print(f"ytingest models: {message}", file=sys.stderr)
    return 2


def add_models_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `models smoke` and `models fetch` to the `ytingest` command."""
    models = subparsers.add_parser("models", help="build offline smoke models or fetch the real ones")
    actions = models.add_subparsers(dest="action", required=True)

    smoke = actions.add_parser("smoke", help="tiny random models of the real architectures, for tests and the demo")
    smoke.add_argument("dir", type=Path, help="where to build them (reused when already built)")
    smoke.add_argument(
        "--size",
        choices=["tiny", "real"],
        default="tiny",
        help="tiny for CPU tests; real for the production dimensions (memory and speed measurements)",
    )
    smoke.set_defaults(func=_smoke)

    fetch = actions.add_parser(
        "fetch",
        help="download the real models into MODELS_DIR (needs the network, HF_TOKEN, pyannote's conditions accepted)",
    )
    fetch.add_argument(
        "--profile",
        choices=["cpu", "gpu-small", "gpu-large"],
        help="fetch this profile's models (default: what MODEL_PROFILE resolves to on this machine)",
    )
    fetch.set_defaults(func=_fetch)


def _smoke(args: argparse.Namespace) -> int:
    from ytingest.offline.smoke_models import build_smoke_models

    models = build_smoke_models(args.dir, size=args.size)
    print(f"smoke models ({models.size}) in {models.manifest.parent}; to use them:")
    print(f"  MODELS_DIR={models.manifest.parent}")
    print(f"  WHISPER_MODEL={models.whisper.name}")
    print(f"  DIARIZATION_MODEL={models.pyannote.name}")
    print(f"  VOICE_MODEL={models.ecapa.name}")
    print(f"  EMBEDDING_MODEL={models.text_encoder}")
    return 0


@dataclass(frozen=True)
class _Download:
    kind: Kind
    name: str
    repo: str
    target: Path
    allow_patterns: list[str] | None

    @property
    def gated(self) -> bool:
        return self.repo.startswith(_GATED_OWNERS)


def _downloads(settings: Settings, profile: str | None) -> list[_Download]:
    from faster_whisper import available_models
    from faster_whisper.utils import (
        _MODELS as WHISPER_REPOS,  # alias -> repository, as WhisperModel resolves it
    )

    assert settings.models_dir is not None
    chosen = settings.model_copy(update={"model_profile": profile}) if profile else settings
    downloads = []
    allow: list[str] | None
    for kind in _KINDS:
        plan = plan_model(kind, chosen, None, sees_cuda=False) if profile else resolve_plan(kind, chosen)
        name = plan.name
        if Path(name).expanduser().is_dir() or (settings.models_dir / name).is_dir():
            print(f"{VARIABLES[kind][0]}: {name} is already local")
            continue
        if kind == "whisper" and name in available_models():
            repo, allow = WHISPER_REPOS[name], _WHISPER_FILES
        elif hub_repository(name):
            repo, allow = name, (_WHISPER_FILES if kind == "whisper" else None)
        else:
            raise ModelConfigError(f"{VARIABLES[kind][0]}: {name!r} is neither a local directory nor a hub repository")
        downloads.append(_Download(kind, name, repo, settings.models_dir / name, allow))
    return downloads


def _reachable_hub() -> str | None:
    """None when the hub can be reached, else why not."""
    import huggingface_hub.constants

    if hub_offline():
        return "the Hugging Face hub is offline here (HF_HUB_OFFLINE=1)"
    host = urlsplit(huggingface_hub.constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as exc:
        return f"cannot reach {host}: {exc.__class__.__name__}: {exc}"
    return None


def _fetch(args: argparse.Namespace) -> int:
    from huggingface_hub import snapshot_download

    settings = get_settings()
    if settings.models_dir is None:
        return _fail("MODELS_DIR is unset; set it to the directory the models should go to")
    try:
        downloads = _downloads(settings, args.profile)
    except ModelConfigError as exc:
        return _fail(exc.reason)
    if not downloads:
        print(f"every model is already in {settings.models_dir}")
        return 0
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    gated = [d.repo for d in downloads if d.gated]
    if gated and not token:
        return _fail(
            f"HF_TOKEN is unset, and {', '.join(gated)} is gated: create a read token at "
            "https://huggingface.co/settings/tokens, accept the conditions at "
            + ", ".join(f"https://huggingface.co/{repo}" for repo in gated)
            + ", then set HF_TOKEN in the environment or .env"
        )
    unreachable = _reachable_hub()
    if unreachable:
        return _fail(f"{unreachable}; run `ytingest models fetch` where the hub can be reached, then copy MODELS_DIR")
    for download in downloads:
        print(f"{VARIABLES[download.kind][0]}: {download.repo} -> {download.target}")
        try:
            snapshot_download(
                download.repo, local_dir=download.target, token=token, allow_patterns=download.allow_patterns
            )
        except Exception as exc:  # noqa: BLE001 - reported without the token
            hint = f" (accepted the conditions at https://huggingface.co/{download.repo}?)" if download.gated else ""
            return _fail(f"downloading {download.repo} failed{hint}: {scrub(str(exc), token)}")
    print(f"done; with MODELS_DIR={settings.models_dir} the profile's models load offline")
    return 0
