"""`ytingest speakers list|name|merge` and `ytingest transcript VIDEO`: who speaks, by name, and the
transcript as a file a user can take away."""

from __future__ import annotations

import argparse
import json
import sys

from ytingest.app.console import print_rows


def _fail(message: str) -> int:
    print(f"ytingest: {message}", file=sys.stderr)
    return 2


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _speakers_list(args: argparse.Namespace) -> int:
    from resources.postgres import PostgresResource
    from ytingest.store.speakers import SpeakerError, list_speakers

    try:
        with PostgresResource().connect() as conn:
            rows = list_speakers(conn, args.channel)
    except SpeakerError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps([row.as_dict() for row in rows]))
        return 0
    if not rows:
        print("no speakers yet")
    print_rows(
        (row.speaker_id, row.name or "(unnamed)", f"{row.videos} videos", f"{_clock(row.talk_seconds)} talk", row.example_url or "-")
        for row in rows
    )
    return 0


def _speakers_name(args: argparse.Namespace) -> int:
    from resources.postgres import PostgresResource
    from ytingest.store.speakers import SpeakerError, name_speaker

    try:
        with PostgresResource().connect() as conn:
            name = name_speaker(conn, args.id, args.name)
    except SpeakerError as exc:
        return _fail(str(exc))
    print(f"speaker {args.id} is now {name!r}")
    return 0


def _speakers_merge(args: argparse.Namespace) -> int:
    from resources.postgres import PostgresResource
    from ytingest.store.speakers import SpeakerError, merge_speakers

    try:
        with PostgresResource().connect() as conn:
            keep, name = merge_speakers(conn, args.keep, args.other)
    except SpeakerError as exc:
        return _fail(str(exc))
    print(f"speaker {args.other} merged into speaker {keep}" + (f" ({name})" if name else ""))
    return 0


def _transcript(args: argparse.Namespace) -> int:
    from ytingest.app.transcripts import TranscriptError, export_transcript

    try:
        text = export_transcript(args.video, args.format)
    except TranscriptError as exc:
        return _fail(str(exc))
    sys.stdout.write(text)
    return 0


def add_archive_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `speakers` and `transcript` to the `ytingest` command."""
    speakers = subparsers.add_parser("speakers", help="global speakers: list, name, merge").add_subparsers(
        dest="action", required=True
    )
    listing = speakers.add_parser("list", help="speakers with their names, videos, talk time and a moment they talk")
    listing.add_argument("--channel", help="only speakers heard in this channel")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_speakers_list)
    name = speakers.add_parser("name", help="give a global speaker a name (shown in search and transcripts)")
    name.add_argument("id", type=int)
    name.add_argument("name")
    name.set_defaults(func=_speakers_name)
    merge = speakers.add_parser("merge", help="fold the second speaker into the first (a name is kept)")
    merge.add_argument("keep", type=int)
    merge.add_argument("other", type=int)
    merge.set_defaults(func=_speakers_merge)

    transcript = subparsers.add_parser("transcript", help="a video's transcript as txt, srt, vtt or json")
    transcript.add_argument("video", help="video id or its YouTube/source id")
    transcript.add_argument("--format", choices=["txt", "srt", "vtt", "json"], default="txt")
    transcript.set_defaults(func=_transcript)
