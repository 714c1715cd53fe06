"""The `ytingest` command as a user runs it: a subprocess with the test environment."""

import json

import pytest

from tests.support.cli import ytingest


def test_channels_add_and_list(archive, instance):
    url = "https://www.youtube.com/channel/UCa1B2c3D4e5F6g7H8i9J0kL"
    added = ytingest("channels", "add", url)
    assert added.returncode == 0, added.stderr
    assert "added: UCa1B2c3D4e5F6g7H8i9J0kL" in added.stdout
    again = ytingest("channels", "add", url)
    assert again.returncode == 0 and "already registered" in again.stdout
    listed = json.loads(ytingest("channels", "list", "--json").stdout)
    assert listed == [
        {
            "key": "UCa1B2c3D4e5F6g7H8i9J0kL",
            "url": url,
            "kind": "youtube_channel",
            "feed_url": "https://www.youtube.com/feeds/videos.xml?channel_id=UCa1B2c3D4e5F6g7H8i9J0kL",
        }
    ]
    assert "UCa1B2c3D4e5F6g7H8i9J0kL" in instance.get_dynamic_partitions("channels")


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
    assert ytingest("channels", "add", "https://example.com/a.rss", "--key", "same").returncode == 0
    result = ytingest("channels", "add", "https://example.com/b.rss", "--key", "same")
    assert result.returncode == 2 and "already registered" in result.stderr


def test_bad_setting_fails_with_its_name(database_url):
    result = ytingest("channels", "list", env={"GPU_POOL_LIMIT": "zero", "HF_TOKEN": "hf_TOPSECRET"})
    assert result.returncode == 2
    assert "GPU_POOL_LIMIT" in result.stderr and "integer" in result.stderr
    assert "hf_TOPSECRET" not in result.stderr + result.stdout


def test_db_url_is_printed(database_url):
    result = ytingest("db", "url")
    assert result.returncode == 0 and result.stdout.startswith("postgresql://")
