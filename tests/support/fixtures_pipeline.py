"""The whole graph's offline configuration, set as a user sets it: MODELS_DIR pointing at what
`ytingest models offline DIR` builds (real Whisper tiny.en and all-MiniLM-L6-v2, smoke pyannote and
ECAPA), and nothing else."""

import pytest


@pytest.fixture(scope="session")
def model_env(offline_models):
    return {"MODELS_DIR": str(offline_models.manifest.parent), "MODEL_PROFILE": "cpu"}


@pytest.fixture
def smoke_model_settings(monkeypatch, model_env):
    for name, value in model_env.items():
        monkeypatch.setenv(name, value)
    return model_env
