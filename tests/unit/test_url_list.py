"""The URL list `ytingest channels add --file` reads: one URL a line, comments and blank lines skipped."""

from ytingest.core.channels_file import read_url_list


def test_comments_and_blank_lines_are_skipped_and_fragments_kept():
    text = (
        "# channels we follow\n"
        "\n"
        "https://www.youtube.com/@one\n"
        "  https://example.com/feed.rss   # the weekly show\n"
        "https://example.com/page#episodes\n"
        "\t# indented comment\n"
    )
    assert read_url_list(text) == [
        "https://www.youtube.com/@one", "https://example.com/feed.rss", "https://example.com/page#episodes"
    ]  # fmt: skip
    assert read_url_list("") == []
