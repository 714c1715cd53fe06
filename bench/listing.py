"""Listed videos recorded per second: the project's listing write (`record_listing`: COPY into a
temporary table, then set-based upserts) against what it replaced, two single-row statements per
video (the video's upsert and its channel link), on a fresh channel each, in the same run."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import psycopg

from bench.archive import add_channels
from bench.environment import reset_archive
from bench.report import Report, Row

PUBLISHED = dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)


def sizes(quick: bool) -> tuple[int, int]:
    """(videos through the project path, videos through the baseline: row by row is too slow for 100k)."""
    return (5_000, 1_000) if quick else (100_000, 5_000)


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.core.listing import ListedVideo

    reset_archive(url)
    project_n, baseline_n = sizes(quick)
    videos = [
        ListedVideo(f"g{n}", "feed", f"http://127.0.0.1:9/e/{n}", f"Episode {n}", PUBLISHED, True,
                    origin="http://127.0.0.1:9/feed.rss")
        for n in range(project_n)
    ]  # fmt: skip
    with psycopg.connect(url) as conn:
        add_channels(conn, ["benchlist", "benchrows"])
    project = _timed(url, _project, videos)
    plain = _timed(url, _row_by_row, videos[:baseline_n])
    report.add(
        Row("listing", "listed videos recorded/s", project_n / project, "videos/s", baseline_n / plain,
            target=100_000 / 60, target_op=">=", target_on="value",  # a 100k-item feed in a minute at most
            definition=f"a feed's listing written to videos + channel_videos; project: `record_listing` of {project_n} "
            f"videos (COPY + set-based upserts); baseline: two single-row statements per video, {baseline_n} videos")
    )  # fmt: skip
    report.details["listing"] = {
        "project_videos": project_n, "project_seconds": round(project, 3),
        "baseline_videos": baseline_n, "baseline_seconds": round(plain, 3),
    }  # fmt: skip


def _timed(url: str, write, videos) -> float:
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        write(conn, videos)
    return time.perf_counter() - started


def _project(conn: psycopg.Connection, videos) -> None:
    from ytingest.store.catalog import record_listing

    record_listing(conn, "benchlist", videos, "Bench listing", None)


def _row_by_row(conn: psycopg.Connection, videos) -> None:
    from ytingest.core.identifiers import video_id_for

    for video in videos:
        video_id = "rows-" + video_id_for(video.extractor, video.source_id, video.url, video.origin)
        conn.execute(
            "INSERT INTO videos (video_id, source_id, url, title, published_at, published_date, date_exact)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (video_id) DO UPDATE SET url = EXCLUDED.url,"
            " title = EXCLUDED.title, updated_at = now()",
            (video_id, video.source_id, video.url, video.title, video.published, video.published.date(), True),
        )
        conn.execute(
            "INSERT INTO channel_videos (channel_key, video_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            ("benchrows", video_id),
        )
