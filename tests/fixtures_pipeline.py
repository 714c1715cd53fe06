"""The whole graph's offline configuration: smoke models in place of the hub's, set through the same
variables a user sets."""

import pytest


@pytest.fixture(scope="session")
def model_env(smoke_models):
    return {
        "WHISPER_MODEL": str(smoke_models.whisper),
        "WHISPER_COMPUTE": "int8",
        "WHISPER_TEMPERATURE": "0",
        "DIARIZATION_MODEL": str(smoke_models.pyannote),
        "VOICE_MODEL": str(smoke_models.ecapa),
        "EMBEDDING_MODEL": str(smoke_models.text_encoder),
        "MODEL_PROFILE": "cpu",
    }


@pytest.fixture
def smoke_model_settings(monkeypatch, model_env):
    for name, value in model_env.items():
        monkeypatch.setenv(name, value)
    return model_env
