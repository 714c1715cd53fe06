"""How a per-video asset walks its partition: which videos to do, which are done, which to skip because
an upstream step failed, and what to record for each. Failures stay per video; the step goes on.

The ledger (`video_steps`) holds lineage: each success gets a revision, and each step records the
revisions of the upstream steps it read. A step is redone for a video when its own version changed,
when an upstream step has produced a new result since, or when its output is gone (`current`)."""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dagster as dg
import psycopg
from psycopg_pool import PoolTimeout

from ingest_assets.partitions import partition_key, selected_videos, spans_by_channel
from resources.postgres import PostgresResource
from resources.models.errors import ModelConfigError, ModelError, ModelUnavailable
from ytingest.core.web_links import video_pages_markdown
from ytingest.settings import get_settings
from ytingest.store import catalog
from ytingest.store.database import redact

T = TypeVar("T")


class VideoFailed(Exception):
    """Raised inside a video's block: that video is recorded as failed with this reason. `permanent`
    marks causes no retry can fix (removed, private), told apart from errors that need attention."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass
class StepReport:
    """What a step did to each video, told per partition: Dagster gives every partition of a run over a
    range of dates the step's one materialization, so each partition's metadata is added on its own
    (`publish`) and lists only its own videos."""

    asset: str
    partitions: dict[str, list[str]] = field(default_factory=dict)  # partition key -> its video ids
    outcome: dict[str, str] = field(default_factory=dict)  # video -> succeeded | already_done
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    tallies: dict[str, Counter[str]] = field(default_factory=dict)  # video -> the step's own numbers
    remarks: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> video -> text

    def tally(self, video_id: str, **amounts: float) -> None:
        self.tallies.setdefault(video_id, Counter()).update(amounts)

    def remark(self, name: str, video_id: str, text: str) -> None:
        texts = self.remarks.setdefault(name, {})
        texts[video_id] = f"{texts[video_id]}; {text}" if video_id in texts else text

    def metadata(self, video_ids: list[str]) -> dict[str, Any]:
        mine = set(video_ids)
        names = dict.fromkeys(name for counter in self.tallies.values() for name in counter)
        totals = {name: sum(self.tallies.get(v, Counter())[name] for v in video_ids) for name in names}
        return {
            "videos_done": sum(self.outcome.get(v) == "succeeded" for v in video_ids),
            "videos_already_done": sum(self.outcome.get(v) == "already_done" for v in video_ids),
            "videos_skipped": sum(v in self.skipped for v in video_ids),
            "videos_failed": sum(v in self.failures for v in video_ids),
            "failures": dg.MetadataValue.json({v: r for v, r in self.failures.items() if v in mine}),
            "skipped": dg.MetadataValue.json({v: r for v, r in self.skipped.items() if v in mine}),
            "video_pages": dg.MetadataValue.md(video_pages_markdown(video_ids)),
            **{name: round(total, 4) if isinstance(total, float) else total for name, total in totals.items()},
            **{
                name: dg.MetadataValue.json({v: text for v, text in texts.items() if v in mine})
                for name, texts in self.remarks.items()
            },
        }

    def publish(self, context: dg.AssetExecutionContext) -> None:
        for key in context.partition_keys:
            context.add_asset_metadata(self.metadata(self.partitions.get(str(key), [])), partition_key=key)


@dataclass(frozen=True)
class Plan:
    todo: list[catalog.VideoRow]
    report: StepReport
    video_ids: list[str]  # every video of the run's partitions, for the asset checks
    version: str
    inputs: dict[str, dict[str, int]]  # per video: the upstream revisions it will be computed from
    previous: dict[str, catalog.StepStatus]  # per video: this step's last outcome, if any


def partition_videos(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> tuple[list[catalog.VideoRow], dict[str, list[str]]]:
    """The videos of every (channel, dates) partition in this run, each once, and each partition's ids."""
    seen: dict[str, catalog.VideoRow] = {}
    partitions: dict[str, list[str]] = {}
    only = selected_videos(context.run.tags)
    with postgres.connect() as conn:
        for channel_key, spans in spans_by_channel(context.partition_keys).items():
            for video in catalog.videos_in_partition(conn, channel_key, spans):
                if (only is None or video.video_id in only) and video.video_id not in seen:
                    seen[video.video_id] = video
                    key = str(partition_key(channel_key, video.partition_date))
                    partitions.setdefault(key, []).append(video.video_id)
    return list(seen.values()), partitions


def plan(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    asset: str,
    upstream: tuple[str, ...],
    version: str,
    current: Callable[[psycopg.Connection, str], bool] | None = None,
) -> Plan:
    """Split the partition's videos into to-do, already done (same version, same upstream results and,
    where `current` is given, output still in place) and skipped (upstream not done)."""
    videos, partitions = partition_videos(context, postgres)
    report = StepReport(asset, partitions)
    ids = [v.video_id for v in videos]
    todo, inputs = [], {}
    with postgres.connect() as conn:
        own = catalog.step_statuses(conn, asset, ids)
        above = {name: catalog.step_statuses(conn, name, ids) for name in upstream}
        for video in videos:
            blocker = _blocker(video.video_id, above)
            if blocker is not None:
                reason, permanent = blocker
                report.skipped[video.video_id] = reason
                catalog.record_step(
                    conn, video.video_id, asset, "skipped", reason, context.run_id, version, permanent=permanent
                )
                continue
            inputs[video.video_id] = {name: above[name][video.video_id].revision for name in upstream}
            mine = own.get(video.video_id)
            if (
                mine is not None
                and mine.status == "succeeded"
                and mine.version == version
                and mine.inputs == inputs[video.video_id]
                and (current is None or current(conn, video.video_id))
            ):
                report.outcome[video.video_id] = "already_done"
                continue
            todo.append(video)
    for video_id, reason in report.skipped.items():
        context.log.info(f"{video_id}: skipped, {reason}")
    return Plan(todo, report, ids, version, inputs, own)


def _blocker(video_id: str, above: dict[str, dict[str, catalog.StepStatus]]) -> tuple[str, bool] | None:
    """Why the video cannot be done yet, and whether that cause is permanent."""
    for name, statuses in above.items():
        status = statuses.get(video_id)
        if status is None:
            return f"upstream {name} has not run for it", False
        if status.status != "succeeded":
            return f"upstream {name} {status.status}: {status.reason}", status.permanent
    return None


# SQLSTATE classes of a database that is gone or unwell rather than of one video's data: connection
# exceptions, insufficient resources, shutdowns (57P; 57014, a cancelled statement, is the video's), system.
_DATABASE_DOWN = ("08", "53", "57P", "58")
REASON_MAX_CHARS = 500


def breaks_step(exc: BaseException) -> bool:
    """Whether `exc` stops the step for every video (the database unreachable, a model that cannot load,
    the run cancelled) rather than failing only the video it was raised for."""
    if not isinstance(exc, Exception):
        return True  # KeyboardInterrupt, SystemExit and Dagster's own interruption of a cancelled run
    if isinstance(exc, (ModelConfigError, ModelUnavailable, dg.Failure, psycopg.InterfaceError, PoolTimeout)):
        return True
    if isinstance(exc, psycopg.OperationalError):
        return exc.sqlstate is None or exc.sqlstate.startswith(_DATABASE_DOWN)
    return False


def failure_of(exc: Exception) -> VideoFailed:
    """`exc` as one video's failure: our own reasons as they are; anything unexpected as its type and the
    first line of its message, with secrets masked (the traceback goes to the step's debug log)."""
    if isinstance(exc, VideoFailed):
        return exc
    reason = getattr(exc, "reason", None)
    if not isinstance(reason, str) or not reason:
        message = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    settings = get_settings()
    for secret in (settings.hf_token, settings.web_token, settings.database_url):
        if secret is not None and secret.get_secret_value():
            reason = reason.replace(secret.get_secret_value(), "***")
    return VideoFailed(redact(reason)[:REASON_MAX_CHARS])


def run_video(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    work: Plan,
    video_id: str,
    compute: Callable[[], T],
    write: Callable[[psycopg.Connection, T], None],
    note: Callable[[T], str | None] | None = None,
    keeps_revision: Callable[[T], bool] | None = None,
) -> T | None:
    """One video: `compute` outside any transaction (inference can take minutes), then `write` and the
    step's outcome in one transaction. Any exception fails this video only (its write rolled back) unless
    it `breaks_step`. `note` gives a succeeded step's reason column something worth knowing (e.g. why its
    captions were not used); `keeps_revision` says a result changed nothing the later steps read (see
    `catalog.record_step`)."""
    report, version, inputs = work.report, work.version, work.inputs[video_id]
    try:
        result = compute()
        with postgres.connect() as conn:
            write(conn, result)
            remark = note(result) if note is not None else None
            keep = keeps_revision is not None and keeps_revision(result)
            catalog.record_step(
                conn, video_id, report.asset, "succeeded", remark, context.run_id, version, inputs, keep_revision=keep
            )
    except (ModelConfigError, ModelUnavailable) as exc:
        raise dg.Failure(description=exc.reason, allow_retries=False) from exc
    except Exception as exc:
        if breaks_step(exc):
            raise
        failed = failure_of(exc)
        if not isinstance(exc, (VideoFailed, ModelError)):
            context.log.debug(f"{video_id}: {report.asset}: {''.join(traceback.format_exception(exc))}")
        report.failures[video_id] = failed.reason
        context.log.warning(f"{video_id}: {report.asset} failed: {failed.reason}")
        with postgres.connect() as conn:
            catalog.record_step(
                conn, video_id, report.asset, "failed", failed.reason, context.run_id, version, inputs, failed.permanent
            )
        return None
    report.outcome[video_id] = "succeeded"
    return result
