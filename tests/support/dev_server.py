"""The project's servers for the tests that need them, each in its own process group on a free port,
waited for, and stopped with everything it started: `ytingest dev` (webserver, daemon and code server)
for the UI and the daemon, and any other `ytingest` server command (`serve`) through `ytingest_server`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def ytingest_dev(env: dict[str, str], log_path: Path) -> Iterator[int]:
    """Yields the port once the webserver answers; its output goes to `log_path`."""
    with ytingest_server(["dev"], env, log_path, "/server_info", ready_seconds=180, stop_seconds=30) as port:
        yield port


@contextlib.contextmanager
def ytingest_server(
    command: list[str], env: dict[str, str], log_path: Path, ready_path: str, ready_seconds: float, stop_seconds: float
) -> Iterator[int]:
    """`ytingest COMMAND --port PORT` in its own process group on a free port: yields the port once
    http://127.0.0.1:PORT{ready_path} answers, and ends the group (TERM, then KILL) afterwards."""
    port = _free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ytingest.app.cli", *command, "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_for(f"http://127.0.0.1:{port}{ready_path}", ready_seconds)
            yield port
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=stop_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f}s")
