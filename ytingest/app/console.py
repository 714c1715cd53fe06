"""What a command shows: its own lines and progress on stdout; everything on stderr (Dagster's event
lines, library warnings, also from the run's step processes, which inherit the descriptor) goes to a
log file whose path is printed, and to the screen as well only with --verbose."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def logged_stderr(name: str, log_dir: Path, verbose: bool) -> Iterator[Path]:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.log"
    print(f"log: {path}" + ("" if verbose else " (Dagster's event lines and warnings; --verbose shows them here)"))
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    tee = None
    with open(path, "ab") as log:
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
