"""Postgres + pgvector and the Dagster instance on the real embedded server."""

import threading

import psycopg
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
