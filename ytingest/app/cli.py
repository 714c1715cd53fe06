"""The `ytingest` command: channels, the database, the Dagster UI, and the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from ytingest.app.channels import register_channel
from ytingest.core.identifiers import InvalidChannel
from ytingest.settings import SettingsError, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _fail(message: str, code: int = 2) -> int:
    print(f"ytingest: {message}", file=sys.stderr)
    return code


def _channels_add(args: argparse.Namespace) -> int:
    from ytingest.store.catalog import ChannelConflict

    try:
        key, created = register_channel(args.url, args.key, args.feed_url)
    except (InvalidChannel, ChannelConflict) as exc:
        return _fail(str(exc))
    print(f"{'added' if created else 'already registered'}: {key}")
    return 0


def _channels_list(args: argparse.Namespace) -> int:
    from resources.postgres import PostgresResource
    from ytingest.store import catalog

    with PostgresResource().connect() as conn:
        rows = catalog.channels(conn)
    if args.json:
        print(json.dumps([{"key": r.key, "url": r.url, "kind": r.kind, "feed_url": r.feed_url} for r in rows]))
    else:
        for row in rows:
            print(f"{row.key}\t{row.kind}\t{row.url}")
    return 0


def _db(args: argparse.Namespace) -> int:
    from ytingest.store.database import ready_url, redact, stop_embedded

    if args.action == "stop":
        print("stopped" if stop_embedded() else "no embedded server running")
        return 0
    url = ready_url()
    print(redact(url) if args.action == "url" else f"running: {redact(url)}")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from ytingest.app.instance import ensure_instance

    settings = get_settings()
    ensure_instance(settings)
    env = {**os.environ, **settings.env_for_children()}
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(PROJECT_ROOT / "workspace.yaml"),
        "-h", args.host, "-p", str(args.port),
    ]  # fmt: skip
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    return subprocess.call(command, cwd=PROJECT_ROOT, env=env)


def _ingest(args: argparse.Namespace) -> int:
    from ytingest.app.ingest import print_report, run_ingest
    from ytingest.core.media_errors import MediaError
    from ytingest.store.catalog import ChannelConflict

    try:
        report = run_ingest(args.urls, args.limit, args.since, args.until, args.json)
    except (InvalidChannel, ChannelConflict, MediaError) as exc:
        return _fail(str(exc))
    if args.json:
        print(report.as_json())
    else:
        print_report(report)
    return 0 if report.passed else 1


def _search(args: argparse.Namespace) -> int:
    from ytingest.app.searching import SearchError, format_hits, hit_to_json, run_search

    try:
        hits = run_search(args.query, args.channel, args.speaker, args.since, args.limit)
    except SearchError as exc:
        return _fail(str(exc))
    print(json.dumps([hit_to_json(hit) for hit in hits]) if args.json else format_hits(hits))
    return 0


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; want YYYY-MM-DD") from None


def _demo(args: argparse.Namespace) -> int:
    from ytingest.app.demo import run_demo

    return run_demo(work_dir=Path(args.work_dir) if args.work_dir else None, port=args.port)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ytingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    channels = commands.add_parser("channels", help="register and list channels").add_subparsers(
        dest="action", required=True
    )
    add = channels.add_parser("add", help="register a channel, playlist or feed URL")
    add.add_argument("url")
    add.add_argument("--key", help="partition key (default: derived from the URL)")
    add.add_argument("--feed-url", help="feed the sensor polls (default: derived from the URL)")
    add.set_defaults(func=_channels_add)
    listing = channels.add_parser("list", help="registered channels")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_channels_list)

    db = commands.add_parser("db", help="the embedded Postgres server")
    db.add_argument("action", choices=["start", "stop", "url"])
    db.set_defaults(func=_db)

    dev = commands.add_parser("dev", help="embedded Postgres + instance + `dagster dev`")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=_dev)

    ingest = commands.add_parser("ingest", help="ingest channels end to end and report (the seed's verification run)")
    ingest.add_argument("urls", nargs="+", metavar="URL")
    ingest.add_argument("--limit", type=_positive, help="the N newest videos (across the channels)")
    ingest.add_argument("--since", type=dt.date.fromisoformat, help="first publication date, YYYY-MM-DD")
    ingest.add_argument("--until", type=dt.date.fromisoformat, help="last publication date, YYYY-MM-DD")
    ingest.add_argument("--json", action="store_true", help="print the report as one JSON object")
    ingest.set_defaults(func=_ingest)

    search = commands.add_parser("search", help="hybrid (vector + keyword) search over transcript chunks")
    search.add_argument("query")
    search.add_argument("--channel", help="only this channel key")
    search.add_argument("--speaker", help="only this global speaker (id, or a name given to one)")
    search.add_argument("--since", type=_date, help="only videos published on or after YYYY-MM-DD")
    search.add_argument("--limit", type=_positive, default=10, help="number of hits (default 10)")
    search.add_argument("--json", action="store_true", help="print the hits as a JSON list")
    search.set_defaults(func=_search)

    demo = commands.add_parser("demo", help="ingest a generated sample channel served on loopback")
    demo.add_argument("--work-dir", help="where the sample channel is generated (default: DATA_DIR/demo)")
    demo.add_argument("--port", type=int, default=8765, help="loopback port serving the sample channel")
    demo.set_defaults(func=_demo)

    from ytingest.app.archive_cli import add_archive_commands
    from ytingest.app.models_cli import add_models_commands

    add_models_commands(commands)
    add_archive_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ytingest.store.database import DatabaseError

    try:
        get_settings()
        return args.func(args)
    except SettingsError as exc:
        return _fail(str(exc))
    except DatabaseError as exc:  # a bad or unreachable DATABASE_URL; the message carries no credentials
        return _fail(str(exc), code=1)


if __name__ == "__main__":
    sys.exit(main())
