"""The application database as a Dagster resource."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from ytingest.store.database import connection, migrate, ready_url


class PostgresResource(dg.ConfigurableResource):
    """The application database. Leave `url` unset to use DATABASE_URL or the embedded server."""

    url: str | None = None
    _url: str | None = PrivateAttr(default=None)

    def resolved_url(self) -> str:
        if self._url is None:
            if self.url:
                migrate(self.url)
                self._url = self.url
            else:
                self._url = ready_url()
        return self._url

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection from this process's pool (DB_WORKERS at most), with pgvector's types registered.
        Its block is one transaction: committed on success, rolled back on error."""
        with connection(self.resolved_url()) as conn:
            yield conn
