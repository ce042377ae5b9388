"""Alembic owns the schema: the models agree with the migrations, which go down and up again."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import inspect

from mirror.store.database import create_database_engine
from mirror.store.migrations import SCRIPT_LOCATION, alembic_config, upgrade_to_head
from mirror.store.models import Base
from mirror.store.records import TargetState
from mirror.store.store import Store
from tests.store.racing import race

REPO = Path(__file__).resolve().parents[2]
APP_TABLES = {table.name for table in Base.metadata.sorted_tables}


def tables(url: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_differences(url: str) -> list[object]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_one_linear_history() -> None:
    scripts = ScriptDirectory(str(SCRIPT_LOCATION))
    assert len(scripts.get_heads()) == 1
    assert scripts.get_base() == "0001"


def test_models_agree_with_migrations(store_url: str) -> None:
    engine = create_database_engine(store_url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    assert tables(store_url) == APP_TABLES | {"alembic_version"}
    assert schema_differences(store_url) == []


def test_downgrade_to_base_and_upgrade_again(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.put_cluster("primary", "127.0.0.1:9092", {}, {}, "cli")
    config = alembic_config(store_url)
    command.downgrade(config, "base")
    assert tables(store_url) == {"alembic_version"}
    command.upgrade(config, "head")
    assert schema_differences(store_url) == []
    with Store.open(store_url) as store:
        assert store.list_clusters() == []
        store.put_cluster("primary", "127.0.0.1:9092", {}, {}, "cli")


def test_store_constructor_does_not_touch_the_schema(store_url: str) -> None:
    Store(store_url).close()
    assert tables(store_url) == set()


def test_open_is_idempotent_and_keeps_data(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.create_connector("source", "MirrorSourceConnector", {}, TargetState.RUNNING, "cli")
    with Store.open(store_url) as store:
        assert [record.name for record in store.list_connectors()] == ["source"]


def test_threads_opening_together_migrate_once(store_url: str) -> None:
    race([partial(open_and_close, store_url) for _ in range(3)])
    assert schema_differences(store_url) == []


def open_and_close(url: str) -> None:
    Store.open(url).close()


def test_processes_starting_together_migrate_once(store_url: str) -> None:
    """Several `mirror serve` on one fresh database: one migrates, the others wait and find it done."""
    opener = "import sys; from mirror.store.store import Store; Store.open(sys.argv[1]).close()"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", opener, store_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    try:
        outcomes = [(process.wait(timeout=120), process.communicate()[1].decode()) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [code for code, _ in outcomes] == [0, 0, 0], [error for _, error in outcomes]
    assert schema_differences(store_url) == []


def test_alembic_command_line(store_url: str) -> None:
    alembic = Path(sys.executable).with_name("alembic")
    for arguments in (["upgrade", "head"], ["check"], ["current"]):
        result = subprocess.run(
            [str(alembic), "-x", f"db={store_url}", *arguments],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    head = ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()
    assert f"{head} (head)" in result.stdout
    assert tables(store_url) == APP_TABLES | {"alembic_version"}


def test_apscheduler_uses_the_migrated_job_table(store_url: str) -> None:
    with Store.open(store_url) as store:
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename="apscheduler_jobs")},
            timezone="UTC",
        )
        scheduler.start(paused=True)
        try:
            scheduler.add_job("time:time", "interval", seconds=3600, id="probe")
        finally:
            scheduler.shutdown(wait=False)
        reader = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename="apscheduler_jobs")},
            timezone="UTC",
        )
        reader.start(paused=True)
        try:
            assert [job.id for job in reader.get_jobs()] == ["probe"]
        finally:
            reader.shutdown(wait=False)
    assert schema_differences(store_url) == []
