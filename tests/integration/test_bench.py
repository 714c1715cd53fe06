"""`python -m bench --quick` on its two cheapest benches: the harness runs end to end on its own
throwaway database and writes a report whose ratios are the measured values over their baselines.
No timing is asserted here: speed goals live in bench/, not in tests."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_writes_a_consistent_report(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "writes,search", "--out", str(tmp_path)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["mode"] == "quick"
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"]
    assert set(report["seconds_per_bench"]) == {"writes", "search"}
    rows = report["rows"]
    assert {row["bench"] for row in rows} == {"writes", "search"}
    for row in rows:
        assert row["value"] >= 0, row
        if row["baseline"]:
            assert abs(row["ratio"] - row["value"] / row["baseline"]) < 1e-3, row
    recalls = [row for row in rows if "recall@10" in row["metric"]]
    # vector and hybrid search, each without a filter and with one
    assert sorted(row["metric"].split(" search")[0] for row in recalls) == ["hybrid", "hybrid", "vector", "vector"]
    assert all(0 <= row["value"] <= 1 and row["met"] is not None for row in recalls)
    table = (tmp_path / "latest.md").read_text()
    assert "| bench | metric | value | baseline | ratio | target | definition |" in table
    assert table.count("\n| writes |") == 1 and table.count("\n| search |") == len(rows) - 1
