"""Postgres + pgvector and the Dagster instance on the real embedded server."""

import os
import threading

import numpy as np
import psycopg
import pytest
import yaml

from ytingest.store.database import database_urls, migrate, redact


def test_embedded_server_has_pgvector_and_both_databases(database_url):
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        assert conn.execute("SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector").fetchone()[0] >= 0
    dagster_url = database_urls().dagster
    assert dagster_url.startswith("postgresql+psycopg2://")
    with psycopg.connect(dagster_url.replace("postgresql+psycopg2", "postgresql", 1)) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "dagster"


def test_migrations_are_idempotent_and_safe_concurrently(database_url):
    errors, applied = [], []

    def worker():
        try:
            applied.append(migrate(database_url))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert applied == [[], [], [], []]  # the session fixture already applied everything
    with psycopg.connect(database_url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_instance_uses_postgres_queue_pool_and_run_monitoring(instance):
    from dagster_postgres import PostgresRunStorage

    from ytingest.settings import get_settings

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
    assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == get_settings().gpu_pool_limit
    config = yaml.safe_load((get_settings().dagster_home / "dagster.yaml").read_text())
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    assert instance.run_monitoring_enabled


def test_redact_hides_passwords():
    assert redact("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_pool_size_follows_db_workers_and_a_second_connect_reuses_the_connection(database_url, monkeypatch):
    from psycopg_pool import PoolTimeout

    from resources.postgres import PostgresResource
    from ytingest.store.database import pool

    postgres = PostgresResource()
    monkeypatch.setenv("DB_WORKERS", "3")
    with postgres.connect() as conn:
        first = conn.info.backend_pid
    with postgres.connect() as conn:
        assert conn.info.backend_pid == first
        assert conn.execute("SELECT %s::vector", (np.array([1, 2], dtype=np.float32),)).fetchone()[0].to_list() == [1, 2]
    assert pool(database_url).max_size == 3

    monkeypatch.setenv("DB_WORKERS", "2")
    assert pool(database_url).max_size == 2
    with postgres.connect() as one, postgres.connect() as two:
        assert one.info.backend_pid != two.info.backend_pid
        with pytest.raises(PoolTimeout):  # a third connection waits: two is the most this process may hold
            pool(database_url).getconn(timeout=0.3)


def test_a_connect_block_is_one_transaction(archive):
    from resources.postgres import PostgresResource

    postgres = PostgresResource()
    insert = "INSERT INTO channels (key, url, kind) VALUES (%s, %s, 'feed')"
    with pytest.raises(RuntimeError, match="boom"):
        with postgres.connect() as conn:
            conn.execute(insert, ("rolled-back", "http://127.0.0.1:9/a.rss"))
            raise RuntimeError("boom")
    with postgres.connect() as conn:
        conn.execute(insert, ("committed", "http://127.0.0.1:9/b.rss"))
    with psycopg.connect(archive) as conn:
        assert conn.execute("SELECT key FROM channels").fetchall() == [("committed",)]


def test_a_forked_child_gets_its_own_pool_and_leaves_the_parents_alone(database_url, monkeypatch):
    from ytingest.store.database import connection

    monkeypatch.setenv("DB_WORKERS", "5")  # a pool of its own, holding exactly one connection
    with connection(database_url) as conn:
        parent_backend = conn.info.backend_pid
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            with connection(database_url) as conn:
                os.write(write, str(conn.info.backend_pid).encode())
        finally:
            os._exit(0)  # no finalizers: nothing of the parent's may be closed from here
    os.close(write)
    child_backend = int(os.read(read, 64) or b"0")
    os.close(read)
    os.waitpid(child, 0)
    assert child_backend not in (0, parent_backend)
    # The one pooled connection survived the child (the pool's check would have replaced a dead one).
    with connection(database_url) as conn:
        assert conn.info.backend_pid == parent_backend and conn.execute("SELECT 1").fetchone() == (1,)
