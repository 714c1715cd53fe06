"""The `ytingest` command as a user runs it: a subprocess with the test environment."""

import json

import pytest

from tests.support.cli import ytingest


def test_channels_add_and_list(archive, instance):
    url = "https://www.youtube.com/channel/UCa1B2c3D4e5F6g7H8i9J0kL"
    added = ytingest("channels", "add", url, "--no-check")  # YouTube is unreachable from tests
    assert added.returncode == 0, added.stderr
    assert "added: UCa1B2c3D4e5F6g7H8i9J0kL" in added.stdout
    again = ytingest("channels", "add", url, "--no-check")
    assert again.returncode == 0 and "already registered" in again.stdout
    listed = json.loads(ytingest("channels", "list", "--json").stdout)
    assert listed == [
        {
            "key": "UCa1B2c3D4e5F6g7H8i9J0kL",
            "url": url,
            "kind": "youtube_channel",
            "feed_url": "https://www.youtube.com/feeds/videos.xml?channel_id=UCa1B2c3D4e5F6g7H8i9J0kL",
            "poll_error": None,
            "failing_since": None,
        }
    ]
    assert "UCa1B2c3D4e5F6g7H8i9J0kL" in instance.get_dynamic_partitions("channels")


def test_channels_add_registers_many_in_one_call(archive, instance, tmp_path):
    listed = tmp_path / "channels.txt"
    listed.write_text(
        "# the podcasts we follow\n\n"
        + "".join(f"https://example.com/show{n:03d}/feed.rss   # show {n}\n" for n in range(100))
        + "https://example.com/with-fragment.rss#latest\n"
    )
    added = ytingest("channels", "add", "https://example.com/first.rss", "--file", str(listed), "--no-check")
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert len(lines) == 102 and all(line.startswith("added: ") for line in lines), lines[:3]
    keys = {row["key"] for row in json.loads(ytingest("channels", "list", "--json").stdout)}
    assert len(keys) == 102 and set(instance.get_dynamic_partitions("channels")) == keys
    urls = {row["url"] for row in json.loads(ytingest("channels", "list", "--json").stdout)}
    assert "https://example.com/with-fragment.rss#latest" in urls and "https://example.com/show007/feed.rss" in urls

    again = ytingest("channels", "add", "https://example.com/first.rss", "https://example.com/new.rss", "--no-check")
    assert again.returncode == 0 and again.stdout.splitlines()[0].startswith("already registered: ")
    assert again.stdout.splitlines()[1].startswith("added: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://example.com/ok.rss", "gopher://example.com/feed.rss"], "'gopher://example.com/feed.rss' is not an http(s) URL"),
        (["https://example.com/ok.rss", "https://example.com/two.rss", "--key", "k"], "exactly one URL"),
        ([], "give one or more channel URLs"),
        (["--file", "/nonexistent/channels.txt"], "cannot read /nonexistent/channels.txt: No such file"),
    ],
)
def test_a_bad_url_among_many_registers_none(archive, instance, args, message):
    result = ytingest("channels", "add", *args, "--no-check")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert json.loads(ytingest("channels", "list", "--json").stdout) == []
    assert instance.get_dynamic_partitions("channels") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["channels", "add", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"], "single video"),
        (["channels", "add", "gopher://example.com/feed.rss"], "not an http(s) URL"),
        (["channels", "add", "https://example.com/feed.rss", "--key", "a|b"], "reserves in partition keys"),
        (["channels", "add", "https://example.com/feed.rss", "--key", "a,b"], "reserves in partition keys"),
    ],
)
def test_bad_channels_fail_with_a_clear_message(database_url, args, message):
    result = ytingest(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_conflicting_key_is_refused(archive):
    assert ytingest("channels", "add", "https://example.com/a.rss", "--key", "same", "--no-check").returncode == 0
    result = ytingest("channels", "add", "https://example.com/b.rss", "--key", "same", "--no-check")
    assert result.returncode == 2 and "already registered" in result.stderr


def test_bad_setting_fails_with_its_name(database_url):
    result = ytingest("channels", "list", env={"GPU_POOL_LIMIT": "zero", "HF_TOKEN": "hf_TOPSECRET"})
    assert result.returncode == 2
    assert "GPU_POOL_LIMIT" in result.stderr and "integer" in result.stderr
    assert "hf_TOPSECRET" not in result.stderr + result.stdout


def test_db_url_is_printed(database_url):
    result = ytingest("db", "url")
    assert result.returncode == 0 and result.stdout.startswith("postgresql://")


DEAD_FEED = "http://127.0.0.1:9/feed.rss"  # the discard port: nothing listens, the connection is refused


def test_channels_add_checks_that_the_url_lists_something(archive, instance, sample_server):
    refused = ytingest("channels", "add", DEAD_FEED, "--key", "dead")
    assert refused.returncode == 2 and "could not be listed" in refused.stderr and "--no-check" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert json.loads(ytingest("channels", "list", "--json").stdout) == []
    assert ytingest("channels", "add", sample_server.rss_url, "--key", "sample").returncode == 0


def test_failed_ingest_leaves_no_channel_behind(archive, instance, offline_models, monkeypatch):
    monkeypatch.setenv("MODELS_DIR", str(offline_models.manifest.parent))  # the models pass; the feed fails
    result = ytingest("ingest", DEAD_FEED)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Connection refused" in result.stderr, result.stderr
    assert json.loads(ytingest("channels", "list", "--json").stdout) == []
    assert instance.get_dynamic_partitions("channels") == []


def test_channels_remove_keeps_the_data_unless_asked(archive, instance):
    import psycopg

    for key in ("keep", "drop"):
        assert ytingest("channels", "add", f"https://example.com/{key}.rss", "--key", key, "--no-check").returncode == 0
    with psycopg.connect(archive) as conn:
        for key in ("keep", "drop"):
            conn.execute("INSERT INTO videos (video_id, source_id, url, title) VALUES (%s, %s, 'u', 't')", (key, key))
            conn.execute("INSERT INTO channel_videos VALUES (%s, %s)", (key, key))
    assert ytingest("channels", "remove", "keep").returncode == 0
    assert ytingest("channels", "remove", "drop", "--delete-data").returncode == 0
    assert json.loads(ytingest("channels", "list", "--json").stdout) == []
    assert instance.get_dynamic_partitions("channels") == []
    with psycopg.connect(archive) as conn:
        assert conn.execute("SELECT video_id FROM videos").fetchall() == [("keep",)]
    unknown = ytingest("channels", "remove", "nope")
    assert unknown.returncode == 2 and "no channel 'nope'" in unknown.stderr
    # Added again by hand, a removed channel is polled again.
    assert "added: keep" in ytingest("channels", "add", "https://example.com/keep.rss", "--key", "keep", "--no-check").stdout
