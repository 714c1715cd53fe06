"""The Dagster UI as the partitions bench meets it: `ytingest dev` (webserver, daemon, code server) on a
loopback port, an asset's partitions page timed in headless Chromium, and the GraphQL query that page
asks for its partition status, replayed on its own."""

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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
STATUS_QUERY = "PartitionHealthQuery"  # what the partitions page asks for: every partition's status


@dataclass(frozen=True)
class PageTiming:
    load_seconds: list[float]  # goto until the page shows the partition count, one per fresh page
    query: bytes  # the page's own PartitionHealthQuery request body


@contextlib.contextmanager
def ytingest_dev(env: dict[str, str], log_path: Path, ready_seconds: float = 300) -> Iterator[str]:
    """`ytingest dev` in its own process group; yields its base URL once it answers, ends the group after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ytingest.app.cli", "dev", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_seconds
            while not _answers(base + "/server_info"):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"ytingest dev did not answer within {ready_seconds:.0f}s; see {log_path}")
                time.sleep(1)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def time_partitions_page(base: str, asset: str, partitions: int, loads: int, timeout_s: float) -> PageTiming:
    """Open the asset's partitions page `loads` times, each in a new tab of one browser (its cache warm
    after the first, as a returning user's is), timing until it shows "<partitions> Partitions
    Selected", which appears once the status query has answered."""
    from playwright.sync_api import sync_playwright

    timings, query = [], b""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tabs = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            for _ in range(loads):
                page = tabs.new_page()
                bodies: list[bytes] = []
                page.on("request", lambda r, found=bodies: found.append(r.post_data_buffer or b"") if STATUS_QUERY in r.url else None)
                started = time.monotonic()
                page.goto(f"{base}/assets/{asset}?view=partitions")
                page.get_by_text(f"{partitions:,} Partitions Selected").wait_for(timeout=timeout_s * 1000)
                timings.append(time.monotonic() - started)
                query = query or next((body for body in bodies if body), b"")
                page.close()
        finally:
            browser.close()
    return PageTiming(timings, query)


def time_query(base: str, body: bytes, repeats: int, timeout_s: float) -> list[float]:
    """POST the page's own status query to the webserver `repeats` times; seconds until each answer is read."""
    timings = []
    for _ in range(repeats):
        request = urllib.request.Request(
            f"{base}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = response.read()
        timings.append(time.monotonic() - started)
        if b'"errors"' in answer[:200]:
            raise RuntimeError(f"the status query failed: {answer[:300]!r}")
    return timings


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
