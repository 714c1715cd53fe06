"""The whole graph's offline configuration: smoke models in place of the hub's, set through the same
variables a user sets."""

import pytest


@pytest.fixture(scope="session")
def model_env(smoke_models):
    return {**smoke_models.variables(), "MODEL_PROFILE": "cpu"}


@pytest.fixture
def smoke_model_settings(monkeypatch, model_env):
    for name, value in model_env.items():
        monkeypatch.setenv(name, value)
    return model_env
