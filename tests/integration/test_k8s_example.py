"""The Kubernetes example in docs/k8s validates against dagster-k8s's own config schemas."""

from pathlib import Path

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "docs" / "k8s"
GPU_ASSETS = {"transcripts", "diarization", "voice_embeddings", "text_embeddings"}

dagster_k8s = pytest.importorskip("dagster_k8s")


def _valid(config_type, value) -> None:
    from dagster._config import process_config

    result = process_config(config_type, value)
    assert result.success, [error.message for error in result.errors]


def test_run_launcher_config_validates():
    instance = yaml.safe_load((K8S / "dagster.yaml").read_text())
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    _valid(dagster_k8s.K8sRunLauncher.config_type(), instance["run_launcher"]["config"])


def test_executor_config_validates_and_puts_only_gpu_steps_on_gpus():
    from dagster._config import Shape

    from definitions import defs

    run_config = yaml.safe_load((K8S / "run_config.yaml").read_text())
    executor = run_config["execution"]["config"]
    _valid(Shape(dagster_k8s.k8s_job_executor.config_schema.config_type.fields), executor)
    per_step = executor["per_step_k8s_config"]
    assert set(per_step) == GPU_ASSETS
    pooled = {a.key.to_user_string() for a in defs().assets if a.op.pool == "gpu"}
    assert pooled == GPU_ASSETS  # the pods that ask for a GPU are exactly the steps in pool `gpu`
    for step in per_step.values():
        assert step["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == 1
