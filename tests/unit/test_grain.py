"""A partition's dates by grain: months of every length, keys that never read as another grain's."""

import datetime as dt

import pytest

from ytingest.core import grain


@pytest.mark.parametrize(
    ("day", "first", "last"),
    [
        (dt.date(2024, 2, 29), dt.date(2024, 2, 1), dt.date(2024, 2, 29)),  # a leap February
        (dt.date(2023, 2, 1), dt.date(2023, 2, 1), dt.date(2023, 2, 28)),
        (dt.date(2025, 12, 31), dt.date(2025, 12, 1), dt.date(2025, 12, 31)),  # the year turns after it
        (dt.date(2016, 1, 15), dt.date(2016, 1, 1), dt.date(2016, 1, 31)),
    ],
)
def test_a_month_holds_its_days(day, first, last):
    assert grain.window("month", day) == (first, last)
    assert grain.key("month", day) == first.strftime("%Y-%m")
    assert grain.window_of_key("month", grain.key("month", day)) == (first, last)


def test_a_day_is_its_own_partition():
    day = dt.date(2024, 6, 17)
    assert grain.window("day", day) == (day, day) and grain.key("day", day) == "2024-06-17"
    assert grain.window_of_key("day", "2024-06-17") == (day, day)


def test_keys_of_one_grain_never_read_as_the_other():
    with pytest.raises(ValueError):
        grain.window_of_key("month", "2024-06-01")
    with pytest.raises(ValueError):
        grain.window_of_key("day", "2024-06")


def test_adjacent_partitions_merge_into_one_range():
    months = [grain.window("month", dt.date(2024, m, 1)) for m in (3, 1, 2, 6)]
    assert grain.merged(months) == [(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), (dt.date(2024, 6, 1), dt.date(2024, 6, 30))]
    assert grain.merged([]) == []
