"""Bad settings, where a user meets them: the `ytingest` command, loading the Definitions (what the
Dagster UI and daemon do), and a run. Each names the variable and what it accepts, never echoes a
secret, and is not a stack trace from inside a library. (Every variable's own message is tested in
tests/test_settings.py; `channels list` with a bad GPU_POOL_LIMIT in tests/test_cli.py.)"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"HF_TOKEN": "hf_TOPSECRET", "YTDLP_COOKIES_FILE": "/cookies/SECRETCOOKIES.txt"}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env={**os.environ, **SECRETS, **env}, capture_output=True, text=True, timeout=300, check=False
    )


def _no_secrets(text: str) -> None:
    for secret in ("TOPSECRET", "SECRETCOOKIES", "pw_SECRET"):
        assert secret not in text


@pytest.mark.parametrize(
    ("args", "env", "code", "expected"),
    [
        (
            ["ingest", "https://example.com/feed.rss", "--limit", "1"],
            {"WHISPER_COMPUTE": "int3"},
            2,
            ["WHISPER_COMPUTE: Input should be 'default', 'auto', 'int8'", "(got 'int3')"],
        ),
        (
            ["search", "tides"],
            {"CAPTION_LANGUAGES": "en,../../etc", "MIN_SPEAKERS": "3", "MAX_SPEAKERS": "2"},
            2,
            ["CAPTION_LANGUAGES: language codes like en or pt-BR, got '../../etc'"],
        ),
        (["channels", "list"], {"DATABASE_URL": "mysql://u:pw_SECRET@h/db"}, 1, ["DATABASE_URL: expected a postgresql:// URL"]),
        (
            ["channels", "list"],
            {"DATABASE_URL": "postgresql://u:pw_SECRET@127.0.0.1:1/db"},
            1,
            ["postgresql://u:***@127.0.0.1:1/db"],
        ),
    ],
    ids=["ingest-bad-enum", "search-bad-list-and-range", "bad-database-url", "unreachable-database"],
)
def test_cli_names_the_variable(database_url, args, env, code, expected):
    result = _run([sys.executable, "-m", "ytingest.app.cli", *args], env)
    assert result.returncode == code, result.stderr
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    _no_secrets(result.stdout + result.stderr)


def test_definitions_load_names_the_variable(tmp_path):
    """What `dagster dev` / the daemon / `dagster definitions validate` show when the code location
    cannot load: our error first, naming the variable, and only our frames under it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    result = _run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "definitions"],
        {"MODEL_PROFILE": "huge", "DAGSTER_HOME": str(home), "DATA_DIR": str(tmp_path / "data")},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    headline = output.index("ytingest.settings.SettingsError: invalid settings:")
    assert "MODEL_PROFILE: Input should be 'auto', 'cpu', 'gpu-small' or 'gpu-large' (got 'huge')" in output[headline:]
    assert headline < output.index("Stack Trace")
    _no_secrets(output)


def test_a_run_fails_at_its_first_step_naming_the_variable(archive, instance, monkeypatch):
    """A run whose process sees a bad value (e.g. a run worker started with a different environment)."""
    from definitions import defs
    from ingest_assets.partitions import partition_key

    instance.add_dynamic_partitions("channels", ["settings-check"])
    built = defs()  # the code location loaded with good settings; the step's process then sees a bad one
    key = str(partition_key("settings-check", dt.date(2026, 11, 8)))  # the grain is a setting: read it first
    monkeypatch.setenv("DOWNLOAD_RETRIES", "many")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    result = dg.materialize(
        [built.get_assets_def("videos")],
        partition_key=key,
        instance=instance,
        resources=built.resources,
        raise_on_error=False,
    )
    assert not result.success
    [failure] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    while error.cause is not None and "SettingsError" not in error.cls_name:
        error = error.cause
    assert error.cls_name == "SettingsError"
    assert "DOWNLOAD_RETRIES: Input should be a valid integer" in error.message and "'many'" in error.message
    _no_secrets(str(failure.step_failure_data.error))
