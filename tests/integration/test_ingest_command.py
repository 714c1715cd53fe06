"""`ytingest ingest` as a user runs it, on the loopback channel with a fault mix."""

import datetime as dt
import json

import psycopg
import pytest

from tests.support.cli import ytingest
from ytingest.offline.loopback_server import Fault, LoopbackChannel, Resource
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

NOW = dt.datetime(2026, 11, 12, 15, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        quick_episode(f"ing{n:08d}", published=NOW - dt.timedelta(days=n), captions=Captions.MANUAL if n % 2 else Captions.NONE)
        for n in range(6)
    ]
    return generate_channel(tmp_path_factory.mktemp("ingest"), episodes)


def test_ingest_reports_counts_and_follows_the_threshold(archive, instance, channel, smoke_model_settings):
    with LoopbackChannel(channel) as site:
        site.set_fault("ing00000001", Fault.not_found(), on=Resource.WATCH)
        site.set_fault("ing00000002", Fault.corrupt())
        result = ytingest("ingest", site.rss_url, "--limit", "5", "--json", env=smoke_model_settings)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-3000:]  # 3/5 = 60% is under the 90% default
        assert "Traceback" not in result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert (report["videos_attempted"], report["videos_succeeded"], report["videos_failed"]) == (5, 3, 2)
        assert report["success_rate"] == 0.6
        assert sum(report["failure_reasons"].values()) == 2
        assert any(r.startswith("audio: HTTP 404") for r in report["failure_reasons"])
        assert any("corrupt" in r for r in report["failure_reasons"])
        assert report["audio_hours"] > 0 and report["wall_seconds"] > 0
        assert report["devices"] == ["cpu"] and report["oom_events"] == 0
        checklist = {item["check"]: item["result"] for item in report["checklist"]}
        assert checklist["Success rate > 90%"] == "FAIL"
        assert checklist["VRAM usage < 80%"] == "not measurable on this device"
        assert len(report["run_ids"]) == 1
        # The oldest episode is outside --limit 5: listed, never downloaded.
        with psycopg.connect(archive) as conn:
            assert conn.execute("SELECT count(*) FROM audio").fetchone() == (3,)
            stored = conn.execute("SELECT report FROM ingest_reports").fetchall()
        assert len(stored) == 1 and stored[0][0]["videos_succeeded"] == 3

        again = ytingest("ingest", site.rss_url, "--limit", "5", env={**smoke_model_settings, "SUCCESS_THRESHOLD": "0.5"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[PASS] Success rate > 50%: 60.0% (3/5)" in again.stdout
    assert "[N/A ] GPU utilization > 50%" in again.stdout


def test_ingest_rejects_a_bad_url_before_registering_anything(archive):
    result = ytingest("ingest", "https://example.com/feed.rss", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert result.returncode == 2 and "single video" in result.stderr
    assert ytingest("channels", "list", "--json").stdout.strip() == "[]"
