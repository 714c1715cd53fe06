"""What a command shows: its own lines and progress on stdout; everything on stderr (Dagster's event
lines, library warnings, also from the run's step processes, which inherit the descriptor) goes to a
log file whose path is printed, and to the screen as well only with --verbose. Commands without a log
file keep library warnings and progress bars off the screen unless --verbose asks for them. Listings
print one row a line, fields separated by real tabs."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ytingest.core.text import printable


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose every command and subcommand takes --verbose, before or after its own
    arguments (`ytingest --verbose search ...` or `ytingest search ... --verbose`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # SUPPRESS: a subcommand that was not given the flag leaves the one given before it in place.
        self.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS,
            help="show library warnings and progress bars (and Dagster's event lines) on the screen",
        )  # fmt: skip


def verbose(args: argparse.Namespace) -> bool:
    return getattr(args, "verbose", False)


def hide_library_noise() -> None:
    """Keep what libraries say for developers (deprecations, user warnings, platformdirs' missing
    XDG_RUNTIME_DIR, download and weight-loading bars) off a command's screen."""
    warnings.simplefilter("ignore")
    # Read by huggingface_hub at import, and through it by transformers' own bars.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def print_rows(rows: Iterable[Iterable[object]]) -> None:
    """Each row as one line, its fields separated by tabs. Text from feeds is escaped field by field
    (`printable`), so a tab, newline or terminal escape in a title stays inside its own field."""
    for row in rows:
        print("\t".join(printable(str(field)) for field in row))


@contextmanager
def logged_stderr(name: str, log_dir: Path, verbose: bool) -> Iterator[Path]:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.log"
    print(f"log: {path}" + ("" if verbose else " (Dagster's event lines and warnings; --verbose shows them here)"))
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    tee = None
    with open(path, "ab") as log, warnings.catch_warnings():
        warnings.simplefilter("default")  # the log keeps every library warning, once per place
        if verbose:  # both: tee copies what reaches stderr to the file and to the terminal
            tee = subprocess.Popen(["tee", "-a", str(path)], stdin=subprocess.PIPE, stdout=saved)
            os.dup2(tee.stdin.fileno(), 2)
        else:
            os.dup2(log.fileno(), 2)
        try:
            yield path
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if tee is not None:
                tee.stdin.close()
                tee.wait(timeout=10)
