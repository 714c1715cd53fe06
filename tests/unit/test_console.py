"""A listing's rows: real tabs between fields, and a field's own tab, newline or terminal escape written
out (`\\t`, `\\n`, `\\x1b`), so text from a feed never adds a column or a line."""

from ytingest.app.console import print_rows


def test_each_row_is_one_line_of_tab_separated_fields_whatever_the_fields_hold(capsys):
    print_rows([(7, "Ada\tLovelace\n\x1b[2J", "3 videos"), ("plain", "", "-")])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t") for line in lines] == [
        ["7", "Ada\\tLovelace\\n\\x1b[2J", "3 videos"],
        ["plain", "", "-"],
    ]
