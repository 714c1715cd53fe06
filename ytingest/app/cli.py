"""The `ytingest` command: channels, the database, the Dagster UI, and the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from ytingest.app.console import CommandParser, hide_library_noise, print_rows, verbose
from ytingest.core.identifiers import InvalidChannel
from ytingest.core.text import printable
from ytingest.settings import SettingsError, get_settings, make_files_private

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_QUERY_CHARS = 2000  # a long query is a mistake, and Postgres' tsquery parser overflows on 100k '-'


def _fail(message: str, code: int = 2) -> int:
    print("ytingest: " + "\n".join(printable(line) for line in message.splitlines()), file=sys.stderr)
    return code


def _channels_add(args: argparse.Namespace) -> int:
    from ytingest.app.channels import ChannelCheckFailed, register_channels
    from ytingest.core.channels_file import read_url_list
    from ytingest.store.catalog import ChannelConflict

    urls = list(args.urls)
    if args.file is not None:
        try:
            urls += read_url_list(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
    if not urls:
        return _fail("give one or more channel URLs, or --file FILE with one URL a line")
    try:
        registered = register_channels(urls, args.key, args.feed_url, check=args.check)
    except (InvalidChannel, ChannelConflict, ChannelCheckFailed) as exc:
        return _fail(str(exc) + ("; nothing was registered" if len(urls) > 1 else ""))
    for key, created in registered:
        print(printable(f"{'added' if created else 'already registered'}: {key}"))
    return 0


def _channels_remove(args: argparse.Namespace) -> int:
    from ytingest.app.channels import remove_channel

    if not remove_channel(args.key, delete_data=args.delete_data):
        return _fail(f"no channel {args.key!r}; `ytingest channels list` shows the registered ones")
    print(f"removed: {args.key}" + (" and its data" if args.delete_data else " (its data stays; --delete-data removes it)"))
    return 0


def _channels_list(args: argparse.Namespace) -> int:
    from resources.postgres import PostgresResource
    from ytingest.store import channels as channel_store

    with PostgresResource().connect() as conn:
        rows = channel_store.channel_health(conn)
    if args.json:
        print(json.dumps([
            {"key": r.key, "url": r.url, "kind": r.kind, "feed_url": r.feed_url, "poll_error": r.poll_error,
             "failing_since": r.failing_since.isoformat() if r.failing_since else None}
            for r in rows
        ]))  # fmt: skip
    else:
        print_rows(
            (row.key, row.kind, row.url)
            + ((f"feed failing since {row.failing_since:%Y-%m-%d %H:%M} UTC: {row.poll_error}",) if row.poll_error else ())
            for row in rows
        )
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
    from ytingest.core.feeds import FeedError
    from ytingest.core.media_errors import MediaError
    from ytingest.store.catalog import ChannelConflict

    try:
        with _console("ingest", args):
            report = run_ingest(args.urls, args.limit, args.since, args.until, args.json)
    except (InvalidChannel, ChannelConflict, MediaError, FeedError) as exc:
        return _fail(str(exc))
    if args.json:
        print(report.as_json())
    else:
        print_report(report)
    return 0 if report.passed else 1


def _search(args: argparse.Namespace) -> int:
    import psycopg

    from ytingest.app.searching import SearchError, format_hits, hit_to_json, run_search

    if len(args.query) > MAX_QUERY_CHARS:
        return _fail(f"the query is {len(args.query)} characters long; at most {MAX_QUERY_CHARS} are searched")
    try:
        hits = run_search(args.query, args.channel, args.speaker, args.since, args.limit)
    except SearchError as exc:
        return _fail(str(exc))
    except (psycopg.errors.ProgramLimitExceeded, psycopg.errors.StatementTooComplex) as exc:
        return _fail(f"the query is too complex to search ({type(exc).__name__}); use fewer words")
    print(json.dumps([hit_to_json(hit) for hit in hits]) if args.json else format_hits(hits))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ytingest.app.web import serve

    return serve(args.host, args.port)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; want YYYY-MM-DD") from None


def _demo(args: argparse.Namespace) -> int:
    from ytingest.app.demo import run_demo

    with _console("demo", args):
        return run_demo(work_dir=Path(args.work_dir) if args.work_dir else None, port=args.port)


def _console(name: str, args: argparse.Namespace):
    """stderr to a log file (and the screen with --verbose); with --json, stdout carries only the JSON."""
    from contextlib import nullcontext

    from ytingest.app.console import logged_stderr

    if getattr(args, "json", False):
        return nullcontext()
    return logged_stderr(name, get_settings().data_dir / "logs", verbose(args))


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="ytingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    channels = commands.add_parser("channels", help="register and list channels").add_subparsers(
        dest="action", required=True
    )
    add = channels.add_parser("add", help="register channel, playlist or feed URLs (all or none)")
    add.add_argument("urls", nargs="*", metavar="URL")
    add.add_argument("--file", help="also the URLs in FILE, one a line (# starts a comment)")
    add.add_argument("--key", help="partition key (default: derived from the URL); one URL only")
    add.add_argument("--feed-url", help="feed the sensor polls (default: derived from the URL); one URL only")
    add.add_argument("--no-check", dest="check", action="store_false", help="register without listing the URL first")
    add.set_defaults(func=_channels_add)
    remove = channels.add_parser("remove", help="stop polling a channel (its data stays unless --delete-data)")
    remove.add_argument("key")
    remove.add_argument("--delete-data", action="store_true", help="also delete its videos, derived rows and files")
    remove.set_defaults(func=_channels_remove)
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

    serve = commands.add_parser("serve", help="the archive in a browser: search, transcripts, speakers")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=_serve)

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
    make_files_private()
    args = build_parser().parse_args(argv)
    if not verbose(args):
        hide_library_noise()
    from resources.models.errors import ModelError
    from ytingest.store.database import DatabaseError

    try:
        get_settings()
        code = args.func(args)
        sys.stdout.flush()  # here, so a closed pipe is met inside the `try`
        return code
    except BrokenPipeError:  # `ytingest channels list | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush does not fail again
        return 1
    except SettingsError as exc:
        return _fail(str(exc))
    except DatabaseError as exc:  # a bad or unreachable DATABASE_URL; the message carries no credentials
        return _fail(str(exc), code=1)
    except ModelError as exc:  # a model that is missing or cannot load: a line apiece, naming the setting
        return _fail(exc.reason.replace("\n", "\nytingest: "), code=1)


if __name__ == "__main__":
    sys.exit(main())
