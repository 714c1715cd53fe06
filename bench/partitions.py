"""Partitions at archive scale: 100 channels registered since 2016-01-01, a few thousand listed videos
and materialisation history on a few hundred partitions, on the monthly grain against the daily grain
every instance had before (the baseline, measured in the same run on the same archive).

Timed: registering the channels (`ytingest channels add --file`, against one URL), the upgrade of the
daily instance, each per-video asset's key count, its partitions page in headless Chromium, the GraphQL
status query behind that page, one sensor tick over every channel with all feeds answering (against
fetching and parsing the feeds alone), and launching a backfill of one channel over ten years (the
backfill daemon's own iteration, until every run is submitted). The feeds are generated RSS on loopback;
listings go through the project's own listing code; the ledger of the history is written directly (no
media or models: nothing here runs a step)."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import psycopg

from bench import dagster_ui
from bench.environment import reset_archive
from bench.report import Report, Row

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2016, 1, 1)
TEN_YEARS = (dt.date(2016, 1, 1), dt.date(2025, 12, 31))
PAGE_TIMEOUT_S = 240.0  # the daily grain's page may take minutes: bounded, and said so if it does
BACKFILL_DEADLINE_S = 300.0  # the daily grain's launch takes many minutes: bounded, its runs so far counted


def sizes(quick: bool) -> tuple[int, int, int]:
    """(channels, videos per channel, channels whose every partition has history)."""
    return (10, 10, 2) if quick else (100, 30, 10)


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from ytingest.settings import get_settings

    reset_archive(url)
    channels, per_channel, with_history = sizes(quick)
    os.environ.update({"PARTITION_START_DATE": START.isoformat(), "SENSOR_RUNNING": "false", "PARTITION_GRAIN": "day"})
    details: dict = {"channels": channels, "videos_per_channel": per_channel}
    with _FeedServer(channels, per_channel) as feeds:
        _register(report, work, feeds, details)
        keys = _list_all(url)
        details["videos"] = _count(url, "SELECT count(*) FROM videos")
        details["history_partitions"] = _history(url, keys[:with_history])
        upgrade = _daily_instance_upgraded(details)
        key_counts = {grain: _key_count(grain) for grain in ("month", "day")}
        pages = {grain: _ui(work, grain, key_counts[grain]) for grain in ("month", "day")}
        deadline = 60.0 if quick else BACKFILL_DEADLINE_S
        launches = {grain: _backfill_launch(grain, keys[-1], deadline) for grain in ("month", "day")}
        os.environ["PARTITION_GRAIN"] = "month"
        tick, fetch_only = _sensor_tick(feeds, channels)
    assert get_settings().partition_grain == "month"
    n_videos = details["videos"]
    rows = [
        Row("partitions", "partition keys per per-video asset", key_counts["month"], "keys", key_counts["day"],
            target=25_000, target_op="<=", target_on="value",
            definition=f"{channels} channels registered since {START}; baseline: the daily grain"),
        Row("partitions", "partitions page in headless Chromium", pages["month"].page, "s", pages["day"].page,
            target=3.0, target_op="<=", target_on="value",
            definition="goto /assets/audio?view=partitions until it shows the partition count (its status query "
            f"answered), median of {len(pages['month'].loads)} new tabs after a first visit; {details['history_partitions']} "
            "partitions with history; baseline: the same page on the daily grain"),
        Row("partitions", "GraphQL partition-status query", pages["month"].query, "s", pages["day"].query,
            definition="the page's own PartitionHealthQuery for `audio`, POSTed alone, median of 3; baseline: daily grain"),
        Row("partitions", "sensor tick over every channel", tick, "s", fetch_only,
            target=30.0, target_op="<=", target_on="value",
            definition=f"`new_videos` over {channels} loopback RSS feeds ({n_videos} videos known), all answering, "
            f"{max(1, channels // 10)} with a new upload; baseline: fetching and parsing the same feeds alone, 8 at a time"),
        Row("partitions", "backfill created, one channel over ten years", launches["month"].created, "s",
            launches["day"].created,
            definition="what the UI's Launch waits for: the PartitionBackfill of every asset and partition of one "
            f"channel {TEN_YEARS[0]}..{TEN_YEARS[1]}, stored; baseline: daily grain"),
        Row("partitions", "backfill launched: all its runs submitted", launches["month"].seconds, "s",
            launches["day"].seconds, target=10.0, target_op="<=", target_on="value",
            definition="the same backfill through the backfill daemon's iterations until every run is submitted "
            f"(code location load excluded); baseline: daily grain, {_runs_note(launches['day'])}"),
        Row("partitions", "runs of that backfill", launches["month"].runs, "runs", launches["day"].expected,
            target=40, target_op="<=", target_on="value",
            definition="BACKFILL_PARTITIONS_PER_RUN unset: 12 months a run; baseline: the daily grain's 30 days a run"),
        Row("partitions", f"channels add of {channels} URLs, --no-check", details["add_many_s"], "s",
            details["add_one_s"], target=30.0, target_op="<=", target_on="value",
            definition="`ytingest channels add --file FILE --no-check`, one process; baseline: the same command with one URL"),
        Row("partitions", "upgrade of the daily instance to months", upgrade, "s",
            definition=f"`ensure_instance` on the daily instance: {details['carried_over']} materialisations "
            "reported from the ledger, once"),
    ]  # fmt: skip
    report.add(*rows)
    details.update(
        pages={g: {"first_visit_s": round(p.first, 2), "loads_s": [round(x, 2) for x in p.loads],
                   "query_s": [round(x, 3) for x in p.queries]} for g, p in pages.items()},
        backfill={g: {"created_s": round(b.created, 2), "submitted_s": round(b.seconds, 2), "runs": b.runs,
                      "runs_expected": b.expected} for g, b in launches.items()},
        key_counts=key_counts,
    )  # fmt: skip
    report.details["partitions"] = details


def _runs_note(launch: _Launch) -> str:
    if launch.runs == launch.expected:
        return f"all {launch.expected} runs"
    return f"stopped at {launch.deadline_s:.0f} s with {launch.runs} of its {launch.expected} runs submitted"


class _FeedServer(ThreadingHTTPServer):
    """RSS feeds on 127.0.0.1: channel n at /feeds/n.rss, its videos spread from START to today."""

    daemon_threads = True

    def __init__(self, channels: int, per_channel: int):
        super().__init__(("127.0.0.1", 0), _FeedHandler)
        span = (dt.date.today() - START).days
        self.items = {
            n: [self._item(n, i, START + dt.timedelta(days=(span * i) // per_channel + n % 7)) for i in range(per_channel)]
            for n in range(channels)
        }
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> _FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/feeds/{n}.rss"

    def publish(self, n: int, day: dt.date) -> None:
        self.items[n].append(self._item(n, len(self.items[n]), day))

    def _item(self, n: int, i: int, day: dt.date) -> str:
        published = email.utils.format_datetime(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), usegmt=True)
        link = f"http://127.0.0.1:{self.server_address[1]}/watch/{n}-{i}"
        return (f"<item><title>Episode {i} of show {n}</title><link>{escape(link)}</link>"
                f"<guid isPermaLink=\"false\">show{n}-ep{i}</guid><pubDate>{published}</pubDate></item>")  # fmt: skip

    def document(self, n: int) -> bytes:
        # Newest first, as feeds are; the sensor reads all of them.
        items = "".join(reversed(self.items[n]))
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Show {n}</title>{items}</channel></rss>'.encode()


class _FeedHandler(BaseHTTPRequestHandler):
    server: _FeedServer

    def do_GET(self) -> None:
        name = self.path.removeprefix("/feeds/").removesuffix(".rss")
        if not name.isdigit() or int(name) not in self.server.items:
            self.send_error(404)
            return
        body = self.server.document(int(name))
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _register(report: Report, work: Path, feeds: _FeedServer, details: dict) -> None:
    listed = work / "channels.txt"
    listed.write_text("# the bench's channels\n" + "".join(f"{feeds.url(n)}\n" for n in range(len(feeds.items))))
    details["add_one_s"] = _ytingest("channels", "add", feeds.url(0), "--no-check")
    details["add_many_s"] = _ytingest("channels", "add", "--file", str(listed), "--no-check")


def _ytingest(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "ytingest.app.cli", *args], cwd=ROOT, check=True, capture_output=True, timeout=600)
    return time.monotonic() - started


def _list_all(url: str) -> list[str]:
    """Every channel listed through the project's own listing code; the channel keys."""
    from resources.media import MediaSource
    from ytingest.store import catalog

    media = MediaSource()
    with psycopg.connect(url) as conn:
        rows = catalog.channels(conn)
    for row in rows:
        listing = media.list_channel(row.spec())
        with psycopg.connect(url) as conn:
            catalog.record_listing(conn, row.key, listing.videos, listing.title, None)
    return [row.key for row in rows]


def _history(url: str, keys: list[str]) -> int:
    """Every step succeeded for every video of these channels: the ledger a finished archive has."""
    from ingest_assets.outcomes import STEPS
    from ytingest.store import catalog

    with psycopg.connect(url) as conn:
        videos = conn.execute(
            "SELECT DISTINCT video_id FROM channel_videos WHERE channel_key = ANY(%s)", (keys,)
        ).fetchall()
        for (video_id,) in videos:
            for step in STEPS:
                catalog.record_step(conn, video_id, step, "succeeded", None, None, "bench")
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(DISTINCT (channel_key, date_trunc('month', partition_date))) FROM videos"
            " JOIN channel_videos USING (video_id) WHERE channel_key = ANY(%s)",
            (keys,),
        ).fetchone()[0]


def _daily_instance_upgraded(details: dict) -> float:
    """The history as the daily grain showed it, then the upgrade every `ytingest` command makes."""
    from dagster import DagsterInstance

    from ytingest.app.instance import ensure_instance
    from ytingest.app.partition_upgrade import report_from_ledger
    from ytingest.settings import get_settings
    from ytingest.store.database import ready_url

    with DagsterInstance.get() as instance, psycopg.connect(ready_url()) as conn:
        details["daily_materialisations"] = report_from_ledger(instance, get_settings(), conn)
    ensure_instance()  # records the daily grain
    os.environ["PARTITION_GRAIN"] = "month"
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        before = _materialisations(instance)
        ensure_instance()
        details["carried_over"] = _materialisations(instance) - before
    return time.monotonic() - started


def _materialisations(instance) -> int:
    import dagster as dg

    from ytingest.app.partition_upgrade import ASSETS

    return sum(len(instance.get_materialized_partitions(dg.AssetKey(name))) for name in ASSETS)


def _key_count(grain: str) -> int:
    import dagster as dg
    from dagster import DagsterInstance

    from definitions import defs

    os.environ["PARTITION_GRAIN"] = grain
    with DagsterInstance.get() as instance, dg.partition_loading_context(dynamic_partitions_store=instance):
        return defs().get_assets_def("audio").partitions_def.get_num_partitions()


class _Pages:
    def __init__(self, timing: dagster_ui.PageTiming, queries: list[float]):
        self.first, self.loads, self.queries = timing.load_seconds[0], timing.load_seconds[1:], queries
        self.page, self.query = statistics.median(self.loads), statistics.median(queries)


def _ui(work: Path, grain: str, partitions: int) -> _Pages:
    os.environ["PARTITION_GRAIN"] = grain
    with dagster_ui.ytingest_dev(dict(os.environ), work / f"dagster-dev-{grain}.log") as base:
        # The first of four visits warms the webserver (code location, status cache) and the browser's
        # cache, as a user's first visit would; the other three are timed.
        timing = dagster_ui.time_partitions_page(base, "audio", partitions, 4, PAGE_TIMEOUT_S)
        queries = dagster_ui.time_query(base, timing.query, 3, PAGE_TIMEOUT_S)
    return _Pages(timing, queries)


class _Launch:
    def __init__(self, created: float, seconds: float, runs: int, expected: int, deadline_s: float):
        self.created, self.seconds, self.runs, self.expected, self.deadline_s = created, seconds, runs, expected, deadline_s


def _backfill_launch(grain: str, channel: str, deadline_s: float) -> _Launch:
    """A backfill of every asset and partition of `channel` over ten years, as the UI's dialog creates
    it, then the backfill daemon's iterations until all its runs are submitted (queued: nothing executes,
    no daemon dequeues them here). One iteration can outlast any deadline, so it runs in a process of its
    own, stopped at `deadline_s`; its runs are then counted and deleted and it is cancelled, so no later
    daemon picks it up."""
    import multiprocessing
    import queue as queues

    import dagster as dg
    from dagster import DagsterInstance
    from dagster._core.execution.backfill import BulkActionStatus

    os.environ["PARTITION_GRAIN"] = grain
    backfill_id = f"bench{grain}{time.time_ns()}"
    spawn = multiprocessing.get_context("spawn")
    news = spawn.Queue()
    child = spawn.Process(target=_launch_in_child, args=(channel, backfill_id, news), daemon=True)
    child.start()
    created, expected = news.get(timeout=600)  # once the code location has loaded and the backfill is stored
    child.join(timeout=deadline_s)
    if child.is_alive():
        child.kill()
        child.join()
        seconds = created + deadline_s
    else:
        try:
            seconds = news.get(timeout=5)
        except queues.Empty:
            raise RuntimeError(f"the {grain} backfill's process ended without a result (exit {child.exitcode})") from None
    with DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        instance.update_backfill(instance.get_backfill(backfill_id).with_status(BulkActionStatus.CANCELED))
        for run in runs:
            instance.delete_run(run.run_id)
    return _Launch(created, seconds, len(runs), expected, deadline_s)


def _launch_in_child(channel: str, backfill_id: str, news) -> None:
    import dagster as dg
    from dagster import DagsterInstance
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.backfill import execute_backfill_iteration

    from ingest_assets.partitions import partition_key
    from ytingest.app.partition_upgrade import ASSETS
    from ytingest.settings import get_settings

    first, last = TEN_YEARS
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    keys = list(dict.fromkeys(str(partition_key(channel, day)) for day in days))
    # Runs of one channel batch along the date: one per BACKFILL_PARTITIONS_PER_RUN partitions.
    expected = -(-len(keys) // get_settings().partitions_per_run)
    target = ModuleTarget(module_name="definitions", attribute=None, working_directory=str(ROOT), location_name="ytingest")
    with DagsterInstance.get() as instance, create_test_daemon_workspace_context(target, instance) as context:
        asset_graph = context.create_request_context().asset_graph  # loads the code location: not timed
        started = time.monotonic()
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id, asset_graph=asset_graph, partition_names=keys,
            asset_selection=[dg.AssetKey(name) for name in ASSETS], backfill_timestamp=time.time(), tags={},
            dynamic_partitions_store=instance, all_partitions=False, title=None, description=None, run_config=None,
        )  # fmt: skip
        instance.add_backfill(backfill)
        news.put((time.monotonic() - started, expected))
        submitted = dg.RunsFilter(tags={"dagster/backfill": backfill_id})
        while instance.get_runs_count(submitted) < expected:
            list(execute_backfill_iteration(context, logging.getLogger("bench-backfill")))
        news.put(time.monotonic() - started)


def _sensor_tick(feeds: _FeedServer, channels: int) -> tuple[float, float]:
    """(a tick with new uploads on a tenth of the channels, after a first tick; fetching and parsing
    every feed alone, 8 at a time as the sensor polls)."""
    import concurrent.futures

    import dagster as dg
    from dagster import DagsterInstance

    from definitions import defs
    from ingest_assets.sensors import POLL_WORKERS
    from resources.media import MediaSource
    from resources.postgres import PostgresResource
    from ytingest.core.feeds import parse_feed

    media = MediaSource(retries=0)
    with DagsterInstance.get() as instance:
        sensor = defs().get_sensor_def("new_videos")
        context = dg.build_sensor_context(instance=instance, resources={"postgres": PostgresResource(), "media": media})
        first = sensor(context)
        assert not first.run_requests, "the catalog holds every listed video: the first tick requests nothing"
        for n in range(0, channels, 10):
            feeds.publish(n, dt.date.today())
        context = dg.build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"postgres": PostgresResource(), "media": media}
        )
        started = time.monotonic()
        second = sensor(context)
        tick = time.monotonic() - started
        assert len(second.run_requests) == len(range(0, channels, 10)), second.run_requests
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(POLL_WORKERS) as pool:
        list(pool.map(lambda n: parse_feed(media.fetch(feeds.url(n), retries=0), feeds.url(n)), range(channels)))
    return tick, time.monotonic() - started


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]
