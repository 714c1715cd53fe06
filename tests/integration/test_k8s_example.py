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


DATA_DIR = "/data"


def _mounts_and_volumes(config) -> tuple[dict, list, list]:
    """(env, volume_mounts, volumes) of a pod as dagster-k8s builds it from a merged container context."""
    container = config.container_config
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    return env, container.get("volume_mounts", []), config.pod_spec_config.get("volumes", [])


def _claim_mounted_at_data_dir(config, claim: str) -> None:
    env, mounts, volumes = _mounts_and_volumes(config)
    assert env.get("DATA_DIR") == DATA_DIR
    by_name = {v["name"]: v for v in volumes}
    assert len(by_name) == len(volumes), volumes  # no volume declared twice
    at_data_dir = [m for m in mounts if m["mount_path"] == DATA_DIR]
    assert len(at_data_dir) == 1, mounts
    volume = by_name[at_data_dir[0]["name"]]
    assert volume["persistent_volume_claim"]["claim_name"] == claim


def _claim() -> str:
    pvc = yaml.safe_load((K8S / "data-pvc.yaml").read_text())
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    return pvc["metadata"]["name"]


def _context(config: dict, run_k8s_key: str):
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    return K8sContainerContext(
        env_vars=config.get("env_vars"),
        volume_mounts=config.get("volume_mounts"),
        volumes=config.get("volumes"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config.get(run_k8s_key, {})),
    )


def test_the_run_pod_and_every_step_pod_mount_one_readwritemany_claim_at_data_dir():
    """Steps run in separate pods on different nodes: `audio` writes the WAV and captions that the GPU
    steps read, so each pod (merged as dagster-k8s's step handler merges them: launcher, executor, then the
    step's own config) must mount the same ReadWriteMany claim at DATA_DIR."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    from definitions import defs

    claim = _claim()
    launcher = yaml.safe_load((K8S / "dagster.yaml").read_text())["run_launcher"]["config"]
    run_pod = _context(launcher, "run_k8s_config")
    _claim_mounted_at_data_dir(run_pod.run_k8s_config, claim)
    executor = yaml.safe_load((K8S / "run_config.yaml").read_text())["execution"]["config"]
    steps = run_pod.merge(_context(executor, "step_k8s_config"))
    ops = {a.op.name for a in defs().assets}
    assert GPU_ASSETS < ops
    for op in ops:
        own = UserDefinedDagsterK8sConfig.from_dict(executor["per_step_k8s_config"].get(op, {}))
        step_pod = steps.merge(K8sContainerContext(run_k8s_config=own))
        _claim_mounted_at_data_dir(step_pod.run_k8s_config, claim)
