"""`ytingest ingest`: the verification run the seed asked for, as a command.

Registers the channels, picks the N newest videos (or a date range), materialises the whole graph for
their partitions through the project's Dagster instance (ordinary runs, visible in the UI), follows
progress per video, and ends with a report and the seed's checklist.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
from tqdm import tqdm

from resources.postgres import PostgresResource
from ytingest.core.identifiers import parse_channel_url
from ytingest.core.text import printable
from ytingest.settings import Settings, get_settings
from ytingest.store import catalog

ASSETS = ("audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings")
MODEL_KINDS = ("whisper", "diarization", "voice", "text_encoder")
GPU_UTILISATION_BAR = 50.0


@dataclass
class IngestReport:
    channels: list[str]
    run_ids: list[str]
    videos_attempted: int = 0
    videos_succeeded: int = 0
    videos_failed: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    success_rate: float = 0.0
    audio_hours: float = 0.0
    wall_seconds: float = 0.0
    throughput_audio_hours_per_hour: float = 0.0
    oom_events: int = 0
    cpu_fallbacks: int = 0
    devices: list[str] = field(default_factory=list)
    peak_vram_share: float | None = None
    mean_gpu_utilisation_pct: float | None = None
    model_load_share: float = 0.0
    models: dict[str, str] = field(default_factory=dict)  # kind -> "name: real or smoke, and from where"
    checklist: list[dict[str, Any]] = field(default_factory=list)
    passed: bool = False

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def select_partitions(
    channel_keys: list[str], limit: int | None, since: dt.date | None, until: dt.date | None
) -> dict[str, tuple[dt.date, dt.date, list[str]]]:
    """Per channel: the date span to run and the videos it was chosen for (newest `limit` across channels)."""
    with PostgresResource().connect() as conn:
        rows = conn.execute(
            """
            SELECT cv.channel_key, v.video_id, v.partition_date FROM videos v JOIN channel_videos cv USING (video_id)
            WHERE cv.channel_key = ANY(%s) AND v.partition_date IS NOT NULL
              AND (%s::date IS NULL OR v.partition_date >= %s) AND (%s::date IS NULL OR v.partition_date <= %s)
            ORDER BY v.published_at DESC NULLS LAST, v.video_id
            """,
            (channel_keys, since, since, until, until),
        ).fetchall()
    if limit is not None:
        rows = rows[:limit]
    chosen: dict[str, list[tuple[str, dt.date]]] = defaultdict(list)
    for channel_key, video_id, day in rows:
        chosen[channel_key].append((video_id, day))
    # The newest N of a channel (or its videos of a date range) are contiguous in time, so one span of
    # partitions per channel holds them; the run's selection keeps it to them (see `run_ingest`).
    return {
        key: (min(d for _, d in items), max(d for _, d in items), [v for v, _ in items])
        for key, items in chosen.items()
    }


def run_ingest(urls: list[str], limit: int | None, since: dt.date | None, until: dt.date | None, as_json: bool) -> IngestReport:
    from dagster import DagsterInstance
    from dagster._core.events import EngineEventData

    from ingest_assets.dead_runs import release_dead_runs
    from resources.media import MediaSource
    from resources.models.locate import check_models
    from ytingest.app.channels import register_channel
    from ytingest.app.instance import ensure_instance
    from ytingest.app.runs import run_channel_dates

    started = time.monotonic()
    say = (lambda *_: None) if as_json else print
    keys = []
    media = MediaSource()
    # Every channel is validated and listed before any is registered: a bad URL or a malformed feed
    # (FeedError) leaves nothing behind.
    specs = [(url, parse_channel_url(url)) for url in urls]
    check_models(get_settings())  # a missing model fails now, in seconds, not after the downloads
    listings = []
    for url, spec in specs:
        with PostgresResource().connect() as conn:
            known = catalog.channel_by_url(conn, spec.url)
        listings.append((url, media.list_channel(known.spec() if known else spec)))
    for url, listing in listings:
        key, _ = register_channel(url)
        keys.append(key)
        with PostgresResource().connect() as conn:
            catalog.record_listing(conn, key, listing.videos, listing.title, listing.youtube_channel_id)
        say(f"{printable(key)}: {len(listing.videos)} videos listed")
    spans = select_partitions(keys, limit, since, until)
    ensure_instance()
    run_ids: list[str] = []
    all_videos = [v for _, _, ids in spans.values() for v in ids]
    progress = _Progress(all_videos, quiet=as_json)
    progress.start()
    try:
        with DagsterInstance.get() as instance:
            for run_id in release_dead_runs(instance, get_settings().free_slots_after_run_end_seconds):
                say(f"run {run_id} marked failed: the process that ran it is gone")
            for key, (first, last, ids) in spans.items():
                say(f"{key}: {len(ids)} videos, {first} .. {last}")
                outcome = run_channel_dates(
                    instance, key, first, last, tags={"ytingest/origin": "ingest"},
                    # A partition is a month: other uploads of its first and last month are not chosen.
                    video_ids=ids if limit is not None or since or until else None,
                )  # fmt: skip
                run_ids.append(outcome.run_id)
            report = build_report(instance, keys, spans, run_ids, time.monotonic() - started)
            for run_id in run_ids:
                instance.report_engine_event(
                    "ytingest ingest report",
                    instance.get_run_by_id(run_id),
                    EngineEventData(metadata={"report": dg.MetadataValue.json(asdict(report))}),
                )
    finally:
        progress.stop()
    with PostgresResource().connect() as conn:
        conn.execute(
            "INSERT INTO ingest_reports (run_ids, report) VALUES (%s, %s)", (run_ids, report.as_json())
        )
    return report


class _Progress(threading.Thread):
    """A progress bar over the videos x steps, and one line per video and step as its outcome lands in
    Postgres (tqdm keeps the bar below the lines)."""

    def __init__(self, video_ids: list[str], quiet: bool):
        super().__init__(daemon=True)
        self.video_ids = video_ids
        self.seen: set[tuple[str, str, str]] = set()
        self.finished: set[tuple[str, str]] = set()
        self.bar = tqdm(
            total=len(video_ids) * len(ASSETS), unit="step", file=sys.stdout, disable=quiet, dynamic_ncols=True
        )
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self.poll()

    def poll(self) -> None:
        with PostgresResource().connect() as conn:
            rows = conn.execute(
                "SELECT video_id, asset, status, reason FROM video_steps WHERE video_id = ANY(%s) AND asset = ANY(%s)"
                " ORDER BY updated_at",
                (self.video_ids, list(ASSETS)),
            ).fetchall()
        for video_id, asset, status, reason in rows:
            if (video_id, asset, status) in self.seen:
                continue
            self.seen.add((video_id, asset, status))
            if not self.bar.disable:
                self.bar.write(printable(f"  {video_id}  {asset:17} {status}{': ' + reason if reason else ''}"), file=sys.stdout)
            if (video_id, asset) not in self.finished:
                self.finished.add((video_id, asset))
                self.bar.update(1)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        self.poll()
        self.bar.close()


def _model_metadata(instance: dg.DagsterInstance, run_ids: list[str]) -> list[dict[str, Any]]:
    found = []
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = record.dagster_event.event_specific_data.materialization
            found.append({k: v.value for k, v in materialization.metadata.items()})
    return found


def _device_total_mb() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 2**20


def build_report(instance, keys, spans, run_ids, wall_seconds: float) -> IngestReport:
    settings = get_settings()
    video_ids = [v for _, _, ids in spans.values() for v in ids]
    with PostgresResource().connect() as conn:
        # Every video the runs touched counts, chosen or not: the report hides no work.
        touched = conn.execute(
            "SELECT DISTINCT video_id FROM video_steps WHERE run_id = ANY(%s) ORDER BY video_id", (run_ids,)
        ).fetchall()
        video_ids += [row[0] for row in touched if row[0] not in set(video_ids)]
        statuses = conn.execute(
            "SELECT video_id, asset, status, reason FROM video_steps WHERE video_id = ANY(%s) AND asset = ANY(%s)",
            (video_ids, list(ASSETS)),
        ).fetchall()
        seconds = dict(conn.execute("SELECT video_id, duration_seconds FROM audio WHERE video_id = ANY(%s)", (video_ids,)).fetchall())
    by_video: dict[str, dict[str, tuple[str, str | None]]] = defaultdict(dict)
    for video_id, asset, status, reason in statuses:
        by_video[video_id][asset] = (status, reason)
    reasons: Counter[str] = Counter()
    succeeded = 0
    for video_id in video_ids:
        steps = by_video.get(video_id, {})
        failed = [(a, r) for a, (s, r) in steps.items() if s == "failed"]
        if failed:
            asset, reason = failed[0]
            reasons[f"{asset}: {(reason or '').split(':')[0][:80]}"] += 1
        elif all(steps.get(a, ("missing",))[0] == "succeeded" for a in ASSETS):
            succeeded += 1
        else:
            reasons["incomplete: a step did not run"] += 1
    attempted = len(video_ids)
    audio_hours = sum(seconds.get(v, 0.0) for v in video_ids if v in by_video) / 3600
    metadata = _model_metadata(instance, run_ids)
    total = lambda suffix: sum(float(m.get(f"{k}/{suffix}", 0) or 0) for m in metadata for k in MODEL_KINDS)  # noqa: E731
    devices = sorted({str(m[f"{k}/device"]) for m in metadata for k in MODEL_KINDS if f"{k}/device" in m})
    peaks = [float(m[f"{k}/peak_vram_mb"]) for m in metadata for k in MODEL_KINDS if f"{k}/peak_vram_mb" in m]
    utilisation = [float(m[f"{k}/gpu_utilisation_mean_pct"]) for m in metadata for k in MODEL_KINDS if f"{k}/gpu_utilisation_mean_pct" in m]
    device_mb = _device_total_mb() if peaks else None
    report = IngestReport(
        channels=keys,
        run_ids=run_ids,
        videos_attempted=attempted,
        videos_succeeded=succeeded,
        videos_failed=attempted - succeeded,
        failure_reasons=dict(reasons.most_common()),
        success_rate=round(succeeded / attempted, 4) if attempted else 0.0,
        audio_hours=round(audio_hours, 4),
        wall_seconds=round(wall_seconds, 1),
        throughput_audio_hours_per_hour=round(audio_hours / (wall_seconds / 3600), 3) if wall_seconds else 0.0,
        oom_events=int(total("oom_errors")),
        cpu_fallbacks=int(total("cpu_fallbacks")),
        devices=devices,
        peak_vram_share=round(max(peaks) / device_mb, 4) if peaks and device_mb else None,
        mean_gpu_utilisation_pct=round(sum(utilisation) / len(utilisation), 1) if utilisation else None,
        model_load_share=round(total("load_seconds") / wall_seconds, 4) if wall_seconds else 0.0,
        models={
            k: f"{m[f'{k}/model']} ({m.get(f'{k}/weights', 'weights unknown')})"
            for m in metadata
            for k in MODEL_KINDS
            if f"{k}/model" in m
        },
    )
    report.checklist = checklist(report, settings)
    report.passed = report.success_rate >= settings.success_threshold
    return report


def checklist(report: IngestReport, settings: Settings) -> list[dict[str, Any]]:
    """The seed's four checks; the VRAM bar is VRAM_BUDGET_FRACTION, the share every step was allowed."""
    on_gpu = "cuda" in report.devices
    vram_bar = settings.vram_budget_fraction
    peak = report.peak_vram_share
    utilisation = report.mean_gpu_utilisation_pct
    return [
        _check("No CUDA OOM errors", report.oom_events == 0 if on_gpu else None, f"{report.oom_events} OOM events"),
        _check(
            f"VRAM usage < {vram_bar:.0%}",
            None if peak is None else peak < vram_bar,
            "peak " + (f"{peak:.1%}" if peak is not None else "n/a"),
        ),
        _check(
            f"Success rate > {settings.success_threshold:.0%}",
            report.success_rate >= settings.success_threshold,
            f"{report.success_rate:.1%} ({report.videos_succeeded}/{report.videos_attempted})",
        ),
        _check(
            "GPU utilization > 50%",
            None if utilisation is None else utilisation > GPU_UTILISATION_BAR,
            f"mean {utilisation}%" if utilisation is not None else "n/a",
        ),
    ]


def _check(name: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": name, "result": "pass" if passed else ("not measurable on this device" if passed is None else "FAIL"), "detail": detail}


def print_report(report: IngestReport) -> None:
    print("\nytingest ingest report")
    print(f"  videos: {report.videos_attempted} attempted, {report.videos_succeeded} succeeded, {report.videos_failed} failed")
    for reason, count in report.failure_reasons.items():
        print(f"    {count} x {printable(reason)}")
    print(f"  success rate: {report.success_rate:.1%}")
    print(f"  audio: {report.audio_hours:.3f} h in {report.wall_seconds:.0f} s wall = {report.throughput_audio_hours_per_hour} audio h per wall h")
    print(f"  OOM events: {report.oom_events}, CPU fallbacks: {report.cpu_fallbacks}, devices: {', '.join(report.devices) or 'none'}")
    vram = f"{report.peak_vram_share:.1%}" if report.peak_vram_share is not None else "n/a (no GPU)"
    utilisation = f"{report.mean_gpu_utilisation_pct}%" if report.mean_gpu_utilisation_pct is not None else "n/a (no GPU)"
    print(f"  peak VRAM: {vram}, mean GPU utilisation in GPU steps: {utilisation}")
    print(f"  time loading models: {report.model_load_share:.1%} of wall time")
    for kind, model in report.models.items():
        print(f"  model {kind}: {printable(model)}")
    print("  checklist:")
    for item in report.checklist:
        mark = {"pass": "PASS", "FAIL": "FAIL"}.get(item["result"], "N/A ")
        print(f"    [{mark}] {item['check']}: {item['detail']}" + ("" if mark != "N/A " else f" ({item['result']})"))
