"""Settings: one typed place; a bad value names its variable and the accepted values."""

import pytest

from ytingest.settings import SettingsError, load_settings


def test_defaults_load_and_resolve_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = load_settings()
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.dagster_home == settings.data_dir / "dagster_home"
    assert settings.gpu_pool_limit == 1
    assert settings.vram_budget_fraction == 0.8


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("WHISPER_COMPUTE", "int3", "'int8'"),
        ("MODEL_PROFILE", "huge", "'gpu-small'"),
        ("EMBEDDING_DEVICE", "tpu", "'cuda'"),
        ("GPU_POOL_LIMIT", "0", "greater than or equal to 1"),
        ("PARTITION_START_DATE", "yesterday", "date"),
        ("CAPTION_LANGUAGES", "en,../../etc", "language codes"),
        ("VRAM_BUDGET_FRACTION", "1.5", "less than or equal to 1"),
        ("DOWNLOAD_RETRIES", "many", "integer"),
    ],
)
def test_bad_value_names_variable_and_accepted_values(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert variable in message
    assert expected in message
    assert repr(value) in message


def test_secret_values_never_appear_in_errors(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw_SECRET@h/db")
    monkeypatch.setenv("HF_TOKEN", "hf_SECRETSECRET")
    monkeypatch.setenv("GPU_POOL_LIMIT", "-3")
    monkeypatch.setenv("MIN_SPEAKERS", "3")
    monkeypatch.setenv("MAX_SPEAKERS", "2")  # a whole-settings error, whose input is every value
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "GPU_POOL_LIMIT" in str(err.value)
    monkeypatch.setenv("GPU_POOL_LIMIT", "1")
    with pytest.raises(SettingsError) as whole:
        load_settings()
    assert "MIN_SPEAKERS (3) is above MAX_SPEAKERS (2)" in str(whole.value)
    for secret in ("hf_SECRETSECRET", "pw_SECRET"):
        assert secret not in str(err.value) + str(whole.value)
    settings = load_settings(gpu_pool_limit=1, min_speakers=None, max_speakers=None)
    assert "hf_SECRETSECRET" not in repr(settings) and "pw_SECRET" not in repr(settings)


def test_dotenv_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GPU_POOL_LIMIT", raising=False)
    (tmp_path / ".env").write_text("GPU_POOL_LIMIT=3\nCAPTION_LANGUAGES=en,pt-BR\n")
    settings = load_settings()
    assert settings.gpu_pool_limit == 3
    assert settings.caption_languages == ["en", "pt-BR"]


def test_env_example_lists_every_setting():
    from pathlib import Path

    from ytingest.settings import Settings

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {line.split("=", 1)[0].lstrip("# ").strip() for line in text.splitlines() if "=" in line}
    assert {name.upper() for name in Settings.model_fields} <= documented
    for seed_variable in (
        "WHISPER_MODEL", "WHISPER_COMPUTE", "ASR_WORKERS", "EMBEDDING_MODEL", "EMBEDDING_DIMENSIONS",
        "EMBEDDING_BATCH_SIZE", "DB_WORKERS", "BATCH_SIZE", "EMBEDDING_DEVICE",
    ):  # fmt: skip
        assert seed_variable in documented
