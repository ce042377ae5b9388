"""SQLAlchemy models of the control-plane tables.

Alembic's migrations in ``alembic/versions`` create these tables; a test checks that the two
agree. Only ``mirror.store`` imports this module: other layers get ``mirror.store.records``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAME_LENGTH = 255
STATE_LENGTH = 32
TOPIC_LENGTH = 249
"""Kafka's own limit on topic names."""

# Deterministic constraint names, so migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite itself keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value.isoformat()} has no time zone: pass an aware datetime")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


StringMap = dict[str, str]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        StringMap: JSON(),
    }


class Cluster(Base):
    __tablename__ = "clusters"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    bootstrap_servers: Mapped[str] = mapped_column(Text)
    config: Mapped[StringMap]
    secrets: Mapped[StringMap]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Flow(Base):
    __tablename__ = "flows"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    source_cluster: Mapped[str] = mapped_column(ForeignKey("clusters.name"), index=True)
    target_cluster: Mapped[str] = mapped_column(ForeignKey("clusters.name"), index=True)
    config: Mapped[StringMap]
    target_state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Connector(Base):
    __tablename__ = "connectors"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    connector_class: Mapped[str] = mapped_column(String(NAME_LENGTH))
    config: Mapped[StringMap]
    target_state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    generation: Mapped[int] = mapped_column(Integer)
    flow: Mapped[str | None] = mapped_column(ForeignKey("flows.name", ondelete="CASCADE"), index=True)
    assigned_worker: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    """Not a foreign key: the assigner may name a worker whose first heartbeat is still in flight."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConnectorStateRow(Base):
    __tablename__ = "connector_states"

    connector: Mapped[str] = mapped_column(
        ForeignKey("connectors.name", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    worker_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    trace: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class TaskStateRow(Base):
    __tablename__ = "task_states"

    connector: Mapped[str] = mapped_column(
        ForeignKey("connectors.name", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(STATE_LENGTH))
    worker_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    trace: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class RestartRequestRow(Base):
    __tablename__ = "restart_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(ForeignKey("connectors.name", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(Integer)
    include_tasks: Mapped[bool] = mapped_column(Boolean)
    only_failed: Mapped[bool] = mapped_column(Boolean)
    requested_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]


class Worker(Base):
    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    address: Mapped[str] = mapped_column(String(NAME_LENGTH))
    started_at: Mapped[datetime]
    last_heartbeat: Mapped[datetime] = mapped_column(index=True)


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    action: Mapped[str] = mapped_column(String(NAME_LENGTH))
    target: Mapped[str] = mapped_column(String(NAME_LENGTH))
    trigger: Mapped[str] = mapped_column(String(STATE_LENGTH))
    spec: Mapped[str] = mapped_column(String(NAME_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class ScheduleRunRow(Base):
    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    worker_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(NAME_LENGTH))
    # Unbounded: "connectors/<name>" is longer than any one name column (0004).
    resource: Mapped[str] = mapped_column(Text)
    detail: Mapped[StringMap]


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(STATE_LENGTH))
    secret_hash: Mapped[str] = mapped_column(String(128))
    """Hex SHA-256 of the token's random part; the token itself is never stored."""
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class UiSessionRow(Base):
    """A dashboard login (``mirror.store.ui_sessions``): the browser holds the random session id,
    never the bearer token. Revoking the token deletes its sessions (the foreign key cascades)."""

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Hex SHA-256 of the session id; the id itself is never stored."""
    token_id: Mapped[str] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LeaseRow(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME_LENGTH))
    expires_at: Mapped[datetime]


class ApschedulerJob(Base):
    """APScheduler 3's ``SQLAlchemyJobStore`` table, as that class defines it, so Alembic owns it."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class FlowLagLatest(Base):
    """Each flow's newest lag sample, whole (``FlowLag.to_json``): what the API, /metrics and /ui show."""

    __tablename__ = "flow_lag_latest"

    flow: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    at_s: Mapped[float] = mapped_column(Float)
    sample: Mapped[str] = mapped_column(Text)


class LagPointRow(Base):
    """Lag history: per-partition samples (tier ``raw``) and per-topic roll-ups (partition -1).

    Narrow on purpose: a month for 10,000 partitions is a few million of these rows."""

    __tablename__ = "lag_points"
    __table_args__ = (Index("ix_lag_points_tier_flow_at_s", "tier", "flow", "at_s"),)

    tier: Mapped[str] = mapped_column(String(STATE_LENGTH), primary_key=True)
    flow: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at_s: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    records: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float | None] = mapped_column(Float)
