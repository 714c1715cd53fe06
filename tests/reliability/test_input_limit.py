"""Fault matrix, a careless limit: `ytingest ingest --limit 1` on a feed with three uploads on the same day.
Runs cover whole dates, so the run used to download all three and report one; now it does exactly the
chosen video, and its report names every video the run touched."""

import datetime as dt
import json

from tests.reliability.archive_state import query
from tests.support.cli import ytingest
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

DAY = dt.date(2026, 11, 18)


def test_limit_bounds_the_work_and_the_report_names_it(archive, instance, smoke_model_settings, tmp_path):
    episodes = [
        quick_episode(f"sameDay{n:04d}", published=dt.datetime.combine(DAY, dt.time(8 + n), tzinfo=dt.UTC),
                      captions=Captions.MANUAL)
        for n in range(3)
    ]  # fmt: skip
    channel = generate_channel(tmp_path / "same-day", episodes)
    with LoopbackChannel(channel) as site:
        done = ytingest("ingest", site.rss_url, "--limit", "1", "--json", env=smoke_model_settings)
        media_requests = [r.path for r in site.request_log if r.path.startswith("/media/")]
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["videos_attempted"], report["videos_succeeded"]) == (1, 1), report
    # The newest of the day, and nothing else: one audio row, one media file fetched, no step for the others.
    assert query(archive, "SELECT v.source_id FROM audio JOIN videos v USING (video_id)") == [("sameDay0002",)]
    assert {path.split("/")[2].split(".")[0] for path in media_requests} == {"sameDay0002"}
    assert query(archive, "SELECT DISTINCT v.source_id FROM video_steps JOIN videos v USING (video_id)") == [
        ("sameDay0002",)
    ]
