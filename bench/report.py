"""One row per measurement, always next to its baseline from the same run, written as JSON and Markdown."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


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


def markdown(report: Report) -> str:
    machine = report.machine
    lines = [
        f"# ytingest bench ({report.mode})",
        "",
        (
            f"{machine.get('started_utc', '')}; {machine.get('cpu', '')}, {machine.get('cores')} cores, "
            f"{machine.get('ram_gib')} GiB RAM, GPU: {machine.get('gpu') or 'none'}; "
            f"torch {machine.get('torch')}, dagster {machine.get('dagster')}; load average (1/5/15 min) "
            f"{machine.get('load_average_at_start')} at start, {machine.get('load_average_at_end')} at end "
            "(other work on the machine slows both sides of every ratio, not always equally)."
        ),
        "",
        "| bench | metric | value | baseline | ratio | target | definition |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.3g}x"
        lines.append(
            f"| {row.bench} | {row.metric} | {_number(row.value)} {row.unit} | {_number(row.baseline)} | {ratio} "
            f"| {_target(row)} | {row.definition} |"
        )
    if report.models:
        lines += ["", "Models: " + "; ".join(f"{kind}: {what}" for kind, what in report.models.items()) + "."]
    if report.seconds:
        lines += ["", "Bench wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items()) + "."]
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def write(report: Report, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(json.dumps(report.as_dict(), indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
