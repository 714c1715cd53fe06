"""The application database as a Dagster resource."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from ytingest.store.database import migrate, ready_url


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
        """A connection whose block is one transaction: committed on success, rolled back on error."""
        with psycopg.connect(self.resolved_url()) as conn:
            yield conn
