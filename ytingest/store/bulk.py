"""Bulk writes, BATCH_SIZE rows at a time: one COPY, or one pipelined `executemany`, per batch.

A batch bounds what one statement holds in the client and the server at once (a 3-hour video has
thousands of segments and chunks), while still paying one round trip per batch rather than per row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from ytingest.settings import get_settings

T = TypeVar("T")
Statement = str | sql.Composable


def batches(rows: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """`rows` in lists of `size` (BATCH_SIZE when None), the last one shorter."""
    size = size or get_settings().batch_size
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


def copy_rows(
    conn: psycopg.Connection, statement: Statement, rows: Iterable[Sequence[Any]], types: Sequence[str] | None = None
) -> int:
    """COPY `rows` through `statement` (`COPY t (cols) FROM STDIN`), one COPY per batch. With `types`
    (Postgres type names, one per column) the statement must say `WITH (FORMAT BINARY)`: vectors then
    travel as pgvector's binary format instead of text."""
    count = 0
    with conn.cursor() as cur:
        for batch in batches(rows):
            with cur.copy(statement) as copy:
                if types is not None:
                    copy.set_types(types)
                for row in batch:
                    copy.write_row(row)
            count += len(batch)
    return count


def execute_rows(conn: psycopg.Connection, statement: Statement, rows: Iterable[Sequence[Any]]) -> int:
    """`statement` once per row, one pipelined `executemany` (one round trip) per batch."""
    count = 0
    with conn.cursor() as cur:
        for batch in batches(rows):
            cur.executemany(statement, batch)
            count += len(batch)
    return count
