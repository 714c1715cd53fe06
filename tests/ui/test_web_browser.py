"""The web app (`ytingest serve`) as a user meets it, in headless Chromium: search a phrase spoken late in
an episode, click the first hit and hear it from where the words begin; click a transcript line; name a
speaker and see the name in the results. Screenshots as in the UI test (UPDATE_SCREENSHOTS=1 refreshes
the README's)."""

import os
import shutil
from pathlib import Path

import psycopg
import pytest

from tests.support.web import EPISODE, QUERY, ingest_episode, spoken, ytingest_serve

ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
PLAYING = "() => { const a = document.getElementById('audio-player'); return !a.paused && a.readyState >= 3; }"
NOW = "document.getElementById('audio-player').currentTime"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)"),
]


def _play_and_read(page, link) -> float:
    """Click `link`, wait until the player is really playing, and return where it is."""
    link.click()
    page.wait_for_function(PLAYING, timeout=30_000)
    at = page.evaluate(NOW)
    page.wait_for_timeout(600)
    assert page.evaluate(NOW) > at, "the player does not advance"
    return at


def test_search_plays_from_the_phrase_and_speaker_names_show(archive, instance, smoke_model_settings, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    episode = ingest_episode(instance, tmp_path / "channel")
    phrase = spoken(episode, "distant thunder")
    with psycopg.connect(archive) as conn:
        (video_id,) = conn.execute("SELECT video_id FROM videos WHERE source_id = %s", (EPISODE.video_id,)).fetchone()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = {**os.environ, **smoke_model_settings}
    with ytingest_serve(env, tmp_path / "serve.log") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 760})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # the first search may wait for the encoder to load

        page.goto(base)
        page.get_by_label("query").fill(QUERY)
        page.get_by_role("button", name="Search").click()
        first = page.locator(".hit").first
        expect(first).to_contain_text(EPISODE.title)
        expect(first.locator(".passage mark")).to_have_text(["sound", "like", "distant", "thunder"])
        at = _play_and_read(page, first.locator("a.play"))
        assert abs(at - phrase.start) <= 2, f"played from {at:.2f}s, the phrase starts at {phrase.start:.2f}s"
        page.screenshot(path=str(shots / "web-search.png"))

        speaker_id = first.locator(".speaker").get_attribute("data-speaker-id")
        assert speaker_id, "the hit's line has no global speaker"
        page.goto(f"{base}/speakers")
        row = page.locator(f"#speaker-{speaker_id}")
        row.get_by_label(f"name of speaker {speaker_id}").fill("Ada Lovelace")
        row.get_by_role("button", name="Rename").click()
        expect(page.locator(".done")).to_contain_text("renamed")
        page.goto(f"{base}/?q={QUERY}")
        expect(page.locator(".hit").first.locator(".speaker")).to_have_text("Ada Lovelace")

        page.goto(f"{base}/videos/{video_id}")
        line = page.locator(".line", has_text="distant thunder")
        expect(line.locator(".speaker")).to_have_text("Ada Lovelace")
        at = _play_and_read(page, line.locator("a.play"))
        assert abs(at - phrase.start) <= 2, f"the line played from {at:.2f}s, it starts at {phrase.start:.2f}s"
        expect(line).to_have_class("line current")
        page.screenshot(path=str(shots / "web-transcript.png"))
        browser.close()
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copytree(shots, README_SCREENSHOTS, dirs_exist_ok=True)
