"""Initial control-plane schema.

Clusters, flows, connectors and their status, workers, schedules and their runs, the audit log,
API tokens, leases, and APScheduler's job table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def name_column(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=255), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "clusters",
        name_column("name"),
        sa.Column("bootstrap_servers", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_clusters")),
    )
    op.create_table(
        "flows",
        name_column("name"),
        name_column("source_cluster"),
        name_column("target_cluster"),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("target_state", sa.String(length=32), nullable=False),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["source_cluster"], ["clusters.name"], name=op.f("fk_flows_source_cluster_clusters")
        ),
        sa.ForeignKeyConstraint(
            ["target_cluster"], ["clusters.name"], name=op.f("fk_flows_target_cluster_clusters")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_flows")),
    )
    op.create_index(op.f("ix_flows_source_cluster"), "flows", ["source_cluster"])
    op.create_index(op.f("ix_flows_target_cluster"), "flows", ["target_cluster"])

    op.create_table(
        "connectors",
        name_column("name"),
        name_column("connector_class"),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("target_state", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        name_column("flow", nullable=True),
        name_column("assigned_worker", nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["flow"], ["flows.name"], name=op.f("fk_connectors_flow_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_connectors")),
    )
    op.create_index(op.f("ix_connectors_flow"), "connectors", ["flow"])
    op.create_index(op.f("ix_connectors_assigned_worker"), "connectors", ["assigned_worker"])

    op.create_table(
        "connector_states",
        name_column("connector"),
        sa.Column("state", sa.String(length=32), nullable=False),
        name_column("worker_id"),
        sa.Column("trace", sa.Text(), nullable=True),
        timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["connector"],
            ["connectors.name"],
            name=op.f("fk_connector_states_connector_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_connector_states")),
    )
    op.create_table(
        "task_states",
        name_column("connector"),
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        name_column("worker_id"),
        sa.Column("trace", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["connector"],
            ["connectors.name"],
            name=op.f("fk_task_states_connector_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector", "task_id", name=op.f("pk_task_states")),
    )
    op.create_table(
        "restart_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        name_column("connector"),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("include_tasks", sa.Boolean(), nullable=False),
        sa.Column("only_failed", sa.Boolean(), nullable=False),
        timestamp("requested_at"),
        timestamp("handled_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["connector"],
            ["connectors.name"],
            name=op.f("fk_restart_requests_connector_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restart_requests")),
    )
    op.create_index(op.f("ix_restart_requests_connector"), "restart_requests", ["connector"])

    op.create_table(
        "workers",
        name_column("worker_id"),
        name_column("address"),
        timestamp("started_at"),
        timestamp("last_heartbeat"),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_last_heartbeat"), "workers", ["last_heartbeat"])

    op.create_table(
        "schedules",
        name_column("id"),
        name_column("action"),
        name_column("target"),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        name_column("spec"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        name_column("schedule_id"),
        timestamp("scheduled_for"),
        name_column("worker_id"),
        timestamp("started_at"),
        timestamp("finished_at", nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_runs_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        # One row per firing: the process whose INSERT lands runs it.
        sa.UniqueConstraint(
            "schedule_id", "scheduled_for", name=op.f("uq_schedule_runs_schedule_id_scheduled_for")
        ),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        timestamp("at"),
        name_column("actor"),
        name_column("action"),
        name_column("resource"),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        name_column("name"),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        timestamp("created_at"),
        timestamp("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
    )
    op.create_table(
        "leases",
        name_column("name"),
        name_column("holder"),
        timestamp("expires_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )

    # APScheduler 3's SQLAlchemyJobStore table, column for column, so the scheduler finds it made.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index(op.f("ix_apscheduler_jobs_next_run_time"), "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    op.drop_table("leases")
    op.drop_table("api_tokens")
    op.drop_table("audit_log")
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
    op.drop_table("workers")
    op.drop_table("restart_requests")
    op.drop_table("task_states")
    op.drop_table("connector_states")
    op.drop_table("connectors")
    op.drop_table("flows")
    op.drop_table("clusters")
