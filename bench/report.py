"""One row per measurement, always next to its baseline from the same run, written as JSON and Markdown."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # untracked: every run's full detail
TRACKED_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"  # tracked: what the README links


@dataclass(frozen=True)
class Row:
    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    target: float | None = None
    target_op: str | None = None  # "<=" or ">="
    definition: str = ""
    # The target applies to `value / baseline` when there is a baseline, unless this says `value`.
    target_on: str = "ratio"

    @property
    def _judged(self) -> float | None:
        return self.ratio if self.baseline is not None and self.target_on == "ratio" else self.value

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self._judged
        if measured is None or math.isnan(measured):
            return False
        return measured <= self.target if self.target_op == "<=" else measured >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": _round(self.ratio), "met": self.met}


@dataclass
class Report:
    mode: str
    machine: dict[str, Any]
    models: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "machine": self.machine,
            "models": self.models,
            "seconds_per_bench": self.seconds,
            "notes": self.notes,
            "rows": [row.as_dict() for row in self.rows],
            "details": self.details,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{value:,.0f}"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _target(row: Row) -> str:
    if row.target is None:
        return ""
    subject = "ratio" if row.baseline is not None and row.target_on == "ratio" else "value"
    mark = {True: "met", False: "NOT met"}[bool(row.met)]
    return f"{subject} {row.target_op} {row.target:g}: {mark}"


def _machine_line(report: Report) -> str:
    machine = report.machine
    return (
        f"{machine.get('started_utc', '')}; {machine.get('cpu', '')}, {machine.get('cores')} cores, "
        f"{machine.get('ram_gib')} GiB RAM, GPU: {machine.get('gpu') or 'none'}; "
        f"torch {machine.get('torch')}, dagster {machine.get('dagster')}; load average (1/5/15 min) "
        f"{machine.get('load_average_at_start')} at start, {machine.get('load_average_at_end')} at end "
        "(other work on the machine slows both sides of every ratio, not always equally)."
    )


def _table(rows: list[Row]) -> list[str]:
    lines = ["| bench | metric | value | baseline | ratio | target | definition |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.3g}x"
        lines.append(
            f"| {row.bench} | {row.metric} | {_number(row.value)} {row.unit} | {_number(row.baseline)} | {ratio} "
            f"| {_target(row)} | {row.definition} |"
        )
    return lines


def _models_line(report: Report) -> list[str]:
    if not report.models:
        return []
    return ["", "Models: " + "; ".join(f"{kind}: {what}" for kind, what in report.models.items()) + "."]


def markdown(report: Report) -> str:
    lines = [f"# ytingest bench ({report.mode})", "", _machine_line(report), "", *_table(report.rows), *_models_line(report)]
    if report.seconds:
        lines += ["", "Bench wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items()) + "."]
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


_SECTION = re.compile(r"^<!-- bench: (\S+) -->$", re.MULTILINE)
_TRACKED_HEADER = (
    "# Latest benchmark results\n\n"
    "Written by `python -m bench` (full runs only; `--quick` checks the harness and writes nothing here): each\n"
    "bench's section is replaced when that bench runs, so sections may come from different runs and each\n"
    "names its own machine and load. The same, with more detail, is in the untracked `bench/results/latest.json`.\n"
)


def update_tracked(report: Report, path: Path = TRACKED_RESULTS) -> Path:
    """Replace, in the tracked results file, the sections of the benches this run measured; keep the rest."""
    text = path.read_text() if path.exists() else ""
    marks = list(_SECTION.finditer(text))
    sections = {m.group(1): text[m.start() : marks[i + 1].start() if i + 1 < len(marks) else len(text)].rstrip() + "\n"
                for i, m in enumerate(marks)}  # fmt: skip
    for bench in report.seconds:
        rows = [row for row in report.rows if row.bench == bench]
        lines = [f"<!-- bench: {bench} -->", f"## {bench}", "", _machine_line(report), "", *_table(rows), *_models_line(report)]
        lines.append(f"\nWall time {report.seconds[bench]:.0f} s.")
        sections[bench] = "\n".join(lines) + "\n"
    path.write_text(_TRACKED_HEADER + "".join(f"\n{sections[name]}" for name in sorted(sections)))
    return path


def write(report: Report, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(json.dumps(report.as_dict(), indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
