"""bench/RESULTS.md, the tracked results the README links: each bench's section is replaced when that
bench runs again, and the other benches' sections stay."""

from bench.report import Report, Row, update_tracked


def _report(bench: str, value: float) -> Report:
    report = Report(mode="full", machine={"started_utc": f"run of {bench} {value}", "cores": 2})
    report.add(Row(bench, "speed", value, "x/s", 1.0))
    report.seconds[bench] = 3.0
    return report


def test_a_bench_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "RESULTS.md"
    update_tracked(_report("writes", 5.0), path)
    update_tracked(_report("asr_workers", 1.3), path)
    update_tracked(_report("writes", 7.0), path)
    text = path.read_text()
    assert text.count("<!-- bench: writes -->") == 1 and text.count("<!-- bench: asr_workers -->") == 1
    assert "| writes | speed | 7 x/s | 1 | 7x |" in text and "5 x/s" not in text
    assert "| asr_workers | speed | 1.3 x/s | 1 | 1.3x |" in text
    assert text.index("## asr_workers") < text.index("## writes")
