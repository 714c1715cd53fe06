"""The Dagster UI as a user meets it, in headless Chromium: the project's webserver and daemon
(`ytingest dev`), the asset graph, a partition materialised from the UI, and its run succeeding."""

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.support.dev_server import ytingest_dev
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to the test's tmp dir; UPDATE_SCREENSHOTS=1 refreshes the README's copies too.
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DAY = dt.date(2026, 11, 9)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture
def dagster_dev(archive, instance, smoke_model_settings, tmp_path):
    env = {**os.environ, **smoke_model_settings, "SENSOR_RUNNING": "false"}
    with ytingest_dev(env, tmp_path / "dagster-dev.log") as port:
        yield f"http://127.0.0.1:{port}"


def _dismiss_welcome(page) -> None:
    """The community sign-up dialog shows a moment after the first page load in a fresh browser."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_role("button", name="Skip").click(timeout=8_000)
    except PlaywrightTimeout:
        pass


def _expand_group(page, group: str, member: str) -> None:
    """The lineage graph opens with groups collapsed; a double click opens one. The graph re-lays
    itself out (animated) after each expansion, so wait for it to settle and retry."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        page.wait_for_timeout(1500)
        if page.get_by_text(member, exact=True).count():
            return
        try:
            page.get_by_text(group, exact=True).last.dblclick(timeout=10_000)
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"group {group} did not open to show {member}")


def test_materialise_a_partition_from_the_ui(dagster_dev, instance, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from ytingest.app.channels import register_channel

    channel = generate_channel(
        tmp_path / "ui", [quick_episode("uiEpisode01", published=dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC), captions=Captions.MANUAL)]
    )
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with LoopbackChannel(channel) as site, sync_playwright() as playwright:
        register_channel(site.rss_url, key="ui-channel")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)

        page.goto(f"{dagster_dev}/asset-groups", wait_until="networkidle")
        _dismiss_welcome(page)
        for group, member in (("ingest", "videos"), ("ml", "transcripts")):
            _expand_group(page, group, member)
        page.screenshot(path=str(shots / "asset-graph.png"))
        page.goto(f"{dagster_dev}/assets", wait_until="networkidle")
        for asset in ("videos", "audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings"):
            expect(page.get_by_text(asset, exact=True).first).to_be_visible(timeout=30_000)
        page.goto(f"{dagster_dev}/asset-groups", wait_until="networkidle")

        page.get_by_role("button", name="Materialize all…").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="All").first.click()  # every channel: the one registered
        date_input = dialog.get_by_placeholder("ex: 2020-01", exact=False)  # monthly: the keys are months
        date_input.fill(DAY.strftime("%Y-%m"))
        date_input.press("Enter")
        expect(dialog.get_by_text("1 partition", exact=False).first).to_be_visible(timeout=30_000)  # counted after typing
        page.screenshot(path=str(tmp_path / "dialog.png"))
        dialog.get_by_role("button", name="Launch").last.click()

        deadline = time.monotonic() + 420
        run = None
        while time.monotonic() < deadline:
            runs = [r for r in instance.get_runs() if any("ui-channel" in v for v in r.tags.values())]
            done = [r for r in runs if r.is_finished]
            if done:
                run = done[0]
                break
            time.sleep(3)
        assert run is not None, "the run launched from the UI did not finish in time"
        assert run.status == dg.DagsterRunStatus.SUCCESS
        page.goto(f"{dagster_dev}/runs/{run.run_id}", wait_until="networkidle")
        _dismiss_welcome(page)
        expect(page.get_by_text("Success", exact=False).first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(shots / "run.png"))
        browser.close()
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copytree(shots, README_SCREENSHOTS, dirs_exist_ok=True)
