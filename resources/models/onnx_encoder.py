"""The text encoder as an ONNX Runtime copy, for a process that encodes a few texts and must answer at
once (`ytingest search`): importing and loading sentence-transformers costs ~8 s on a small CPU, this
copy ~0.5 s, and it gives the same vectors.

The copy is exported once per model directory into DATA_DIR/onnx/<key>/ (the key follows the files,
so a changed model is exported again), from the sentence-transformers model itself: its whole module
pipeline (transformer, pooling, normalisation) as one graph, and its tokenizer with the settings it
encodes with. It is kept only when it encodes probe texts, with and without the query prompt, as
sentence-transformers does; otherwise, or for a model not on disk or too large to run on a CPU, the
directory records why and `open_onnx_encoder` returns None, so the caller uses sentence-transformers.
Sentences the copy has encoded are kept beside it (`vector_cache`): a repeated search skips most of its work.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from resources.models.device import ModelPlan
from resources.models.errors import ModelConfigError
from resources.models.locate import find_model
from resources.models.vector_cache import VectorCache
from ytingest.settings import Settings, get_settings

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

log = logging.getLogger(__name__)

EXPORT_VERSION: Final = 1  # part of the key: a change to how copies are made makes new ones
# The weights the copy is made for: small encoders (all-MiniLM-L6-v2 is 87 MiB). A 1.5B-parameter
# encoder would take seconds a query on a CPU, and ONNX's protobuf stops at 2 GiB.
MAX_WEIGHT_BYTES: Final = 2**30
# Cosine distance allowed between the copy's vectors and sentence-transformers' on the probes. The copy
# runs the same float32 graph, so it is ~1e-7 in practice; search needs 1e-3.
MAX_COSINE_GAP: Final = 1e-4
QUERY_PROMPT: Final = "query"  # as TextEncoderSession.encode_query asks for it
# The tokenizer's model inputs and where a `tokenizers.Encoding` holds each.
_ENCODING_FIELDS: Final = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
_PROBES: Final = (
    "river ice",
    "What did they say about the tides?",
    "Every spring the ice on the frozen river breaks up within a single day, and it sounds like thunder.",
    "Naïve café owners in São Paulo — 東京 — and emoji 🎙️ too.",
    "  spaces   and\ttabs\n",
    " ".join(["a long passage that runs past the model's maximum sequence length"] * 60),
)


@dataclass(frozen=True)
class OnnxTextEncoder:
    """Encodes as TextEncoderSession does (`encode`, `encode_query`, `plan`), on ONNX Runtime on the CPU.
    The runtime loads on the first text not in the cache: a repeated search does not load it at all."""

    plan: ModelPlan
    copy: Path
    manifest: dict[str, Any]
    batch_size: int

    @property
    def dimensions(self) -> int:
        return self.manifest["dimensions"]

    @functools.cached_property
    def cache(self) -> VectorCache:
        return VectorCache(self.copy / "sentences.sqlite", self.dimensions)

    def encode_query(self, query: str) -> np.ndarray:
        """A search query's unit-length embedding, with the model's query prompt where it has one."""
        return self.encode([query], prompt_name=QUERY_PROMPT if QUERY_PROMPT in self.manifest["prompts"] else None)[0]

    def encode(self, texts: Sequence[str], *, prompt_name: str | None = None) -> np.ndarray:
        """Unit-length float32 embeddings, (texts, dimensions), as sentence-transformers' `encode` gives;
        texts encoded before are read from the copy's cache."""
        prompts = self.manifest["prompts"]
        prompt = prompts.get(prompt_name or self.manifest["default_prompt_name"] or "", "")
        return self.cache.encode([prompt + text for text in texts], self._compute)

    def _compute(self, items: list[str]) -> np.ndarray:
        session, tokenizer = self._runtime
        vectors = np.empty((len(items), self.dimensions), dtype=np.float32)
        # Longest first, as sentence-transformers batches, so a batch pads to similar lengths.
        order = np.argsort([-len(item) for item in items], kind="stable")
        for start in range(0, len(items), self.batch_size):
            batch = order[start : start + self.batch_size]
            encodings = tokenizer.encode_batch([items[i] for i in batch])
            feed = {
                name: np.array([getattr(e, _ENCODING_FIELDS[name]) for e in encodings], dtype=np.int64)
                for name in self.manifest["inputs"]
            }
            vectors[batch] = session.run(None, feed)[0]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    @functools.cached_property
    def _runtime(self) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        import onnxruntime
        import tokenizers

        manifest = self.manifest
        tokenizer = tokenizers.Tokenizer.from_file(str(self.copy / "tokenizer.json"))
        # Pad to the longest text of a batch, truncate at the model's length, each on the model's side.
        tokenizer.enable_truncation(manifest["max_length"], direction=manifest["truncation_side"])
        tokenizer.enable_padding(
            direction=manifest["padding_side"], pad_id=manifest["pad_id"], pad_token=manifest["pad_token"]
        )
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its graph-optimisation notes are not for a user
        # Idle threads sleep instead of spinning: a search runs a few short batches on a machine that may
        # be busy, where spinning threads only take CPU from the one doing the work.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = str(self.copy / "model.onnx")
        return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"]), tokenizer


def open_onnx_encoder(settings: Settings | None = None) -> OnnxTextEncoder | None:
    """The configured text encoder's ONNX copy, exported first if this model has none yet (once, ~25 s on 2 cores);
    None when it has no usable copy. Raises ModelConfigError as TextEncoderSession does for a missing
    model or a wrong EMBEDDING_DIMENSIONS."""
    settings = settings or get_settings()
    plan, source = find_model("text_encoder", settings)
    if source.path is None or _weight_bytes(source.path) > MAX_WEIGHT_BYTES:
        return None
    copy = settings.data_dir / "onnx" / copy_key(source.path)
    if not (copy / "manifest.json").is_file():
        try:
            _export_once(source.path, copy)
        except OSError as exc:  # DATA_DIR not writable, disk full: search still works, only slower
            log.warning("text encoder %s: cannot write its ONNX copy in %s: %s", plan.name, copy.parent, exc)
            return None
    manifest = json.loads((copy / "manifest.json").read_text())
    if "unusable" in manifest:
        log.info("text encoder %s: no ONNX copy (%s)", plan.name, manifest["unusable"])
        return None
    expected = settings.embedding_dimensions
    if expected is not None and manifest["dimensions"] != expected:
        raise ModelConfigError(
            f"EMBEDDING_DIMENSIONS={expected}, but {plan.name} produces {manifest['dimensions']}-dimensional "
            f"embeddings; set EMBEDDING_DIMENSIONS={manifest['dimensions']} or choose another EMBEDDING_MODEL"
        )
    return OnnxTextEncoder(plan, copy, manifest, settings.embedding_batch_size)


def _weight_bytes(model_dir: Path) -> int:
    return sum(f.stat().st_size for f in model_dir.rglob("*") if f.suffix in (".safetensors", ".bin", ".pt"))


def copy_key(model_dir: Path) -> str:
    """Names the copy after the model directory and its files (names, sizes, modification times)."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}\0{model_dir}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        info = path.stat()
        digest.update(f"\0{path.relative_to(model_dir)}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _export_once(model_dir: Path, copy: Path) -> None:
    """Export into a private directory, then move it into place; two processes exporting at once both
    succeed and one copy is kept."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=copy.parent))
    try:
        try:
            manifest = _export(model_dir, work)
        except Exception as exc:  # noqa: BLE001 - any model the exporter cannot take falls back, once
            manifest = {"unusable": f"export failed: {type(exc).__name__}: {exc}"}
        manifest["source"] = str(model_dir)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        with contextlib.suppress(OSError):  # another process moved its copy into place first
            os.rename(work, copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _export(model_dir: Path, work: Path) -> dict[str, Any]:
    """Write model.onnx and tokenizer.json into `work`; the manifest says how to use them, or why not."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True).eval()
    tokenizer = model.tokenizer
    inputs = list(getattr(tokenizer, "model_input_names", []))
    if not getattr(tokenizer, "is_fast", False) or not inputs or set(inputs) - set(_ENCODING_FIELDS):
        return {"unusable": f"its tokenizer ({type(tokenizer).__name__}, inputs {inputs}) is not a fast text tokenizer"}
    sample = model.preprocess(["an export sample", "a second, longer export sample"])

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    with torch.no_grad():
        torch.onnx.export(
            Pipeline(), tuple(sample[name] for name in inputs), str(work / "model.onnx"),
            input_names=inputs, output_names=["embedding"], opset_version=17, dynamo=False,
            dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in inputs}, "embedding": {0: "batch"}},
        )  # fmt: skip
    tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
    manifest = {
        "dimensions": model.get_embedding_dimension(),
        "max_length": model.max_seq_length,
        "inputs": inputs,
        "pad_id": tokenizer.pad_token_id,
        "pad_token": tokenizer.pad_token,
        "padding_side": tokenizer.padding_side,
        "truncation_side": tokenizer.truncation_side,
        "prompts": dict(model.prompts),
        "default_prompt_name": model.default_prompt_name,
    }
    exported = OnnxTextEncoder(ModelPlan("text_encoder", str(model_dir), "cpu", "cpu", None, "export check"), work, manifest, 4)
    gaps = []
    for prompt_name in [None] + ([QUERY_PROMPT] if QUERY_PROMPT in model.prompts else []):
        expected = model.encode(list(_PROBES), prompt_name=prompt_name, normalize_embeddings=True, show_progress_bar=False)
        gaps.append(float(np.max(1.0 - np.sum(exported.encode(_PROBES, prompt_name=prompt_name) * expected, axis=1))))
    if max(gaps) > MAX_COSINE_GAP:
        return {"unusable": f"its vectors differ from sentence-transformers' (cosine distance up to {max(gaps):.2g})"}
    return {**manifest, "cosine_gap_on_probes": max(gaps)}
