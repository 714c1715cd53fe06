"""The seed's checklist in `ytingest ingest`'s report: the VRAM bar is VRAM_BUDGET_FRACTION."""

from ytingest.app.ingest import IngestReport, checklist
from ytingest.settings import load_settings


def _results(report: IngestReport, **settings) -> dict[str, str]:
    return {item["check"]: item["result"] for item in checklist(report, load_settings(**settings))}


def test_vram_check_follows_vram_budget_fraction():
    report = IngestReport(
        channels=["c"], run_ids=[], videos_attempted=4, videos_succeeded=4, success_rate=1.0,
        devices=["cuda"], peak_vram_share=0.7, mean_gpu_utilisation_pct=60.0,
    )  # fmt: skip
    assert _results(report, vram_budget_fraction=0.8) == {
        "No CUDA OOM errors": "pass",
        "VRAM usage < 80%": "pass",
        "Success rate > 90%": "pass",
        "GPU utilization > 50%": "pass",
    }
    assert _results(report, vram_budget_fraction=0.6)["VRAM usage < 60%"] == "FAIL"


def test_checks_a_cpu_cannot_measure_say_so():
    report = IngestReport(channels=["c"], run_ids=[], videos_attempted=2, videos_succeeded=1, success_rate=0.5, devices=["cpu"])
    assert _results(report) == {
        "No CUDA OOM errors": "not measurable on this device",
        "VRAM usage < 80%": "not measurable on this device",
        "Success rate > 90%": "FAIL",
        "GPU utilization > 50%": "not measurable on this device",
    }
