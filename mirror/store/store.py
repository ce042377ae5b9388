"""The control-plane store: every read and write of desired state and status goes through here.

CONTRACT (implemented by the store; used by ``mirror.api`` and ``mirror.service``). Every method
opens its own short transaction (SQLAlchemy 2 ``Session``), returns frozen records from
``mirror.store.records`` and is safe to call from several threads and several processes on one
database. Writes by an operator take an ``actor`` (token name, or ``"cli"``/``"local"``) and add
an audit entry in the same transaction; audit details never hold secret values.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets as random_secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import TracebackType
from typing import TypeVar

from sqlalchemy import Engine, Row, Select, delete, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mirror.lag import TIERS, FlowLag, LagPoint, Tier, bucket_start, expired_before, roll_up
from mirror.store import status_reads
from mirror.store.database import Transactions, create_database_engine
from mirror.store.migrations import upgrade_to_head
from mirror.store.models import (
    NAME_LENGTH,
    ApiTokenRow,
    AuditRow,
    Base,
    Cluster,
    Connector,
    ConnectorStateRow,
    Flow,
    FlowLagLatest,
    LagPointRow,
    LeaseRow,
    RestartRequestRow,
    Schedule,
    ScheduleRunRow,
    TaskStateRow,
    Worker,
)
from mirror.store.records import (
    ApiToken,
    AuditEntry,
    ClusterProfile,
    ConnectorRecord,
    ConnectorState,
    FlowRecord,
    LagHistory,
    RestartRequest,
    Role,
    ScheduleRecord,
    ScheduleRun,
    TargetState,
    TaskState,
    WorkerRecord,
)
from mirror.store.ui_sessions import UiSessions, token_record

T = TypeVar("T")

TOKEN_SEPARATOR = "."  # noqa: S105 - a separator, not a password
"""Splits a token into its public id and its secret part (``token_urlsafe`` never emits a dot)."""
TOKEN_LAST_USED_RESOLUTION = timedelta(seconds=60)
"""``authenticate`` rewrites ``last_used_at`` at most this often per token, not on every request."""


class StoreError(Exception):
    """Base of the store's own errors."""


class AlreadyExistsError(StoreError):
    """A create named a resource that exists (the API answers 409)."""


class NotFoundError(StoreError):
    """An update or delete named a resource that does not exist (the API answers 404)."""


class InUseError(StoreError):
    """A delete would orphan something (a cluster used by a flow; the API answers 409)."""


class Store:
    def __init__(self, url: str) -> None:
        """Connect to ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``); no schema change."""
        self._engine = create_database_engine(url)
        self._backend = self._engine.dialect.name
        transactions = Transactions(self._engine)
        self._read = transactions.read
        self._write = transactions.write

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and bring the schema to Alembic's head (the only way the schema is made)."""
        store = cls(url)
        try:
            upgrade_to_head(store._engine)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @cached_property
    def ui_sessions(self) -> UiSessions:
        """Dashboard logins (``mirror.store.ui_sessions``)."""
        return UiSessions(self._engine)

    @property
    def engine(self) -> Engine:
        """The engine (e.g. for APScheduler's ``SQLAlchemyJobStore(engine=...)``)."""
        return self._engine

    # ---- clusters -------------------------------------------------------------------------------
    def put_cluster(
        self,
        name: str,
        bootstrap_servers: str,
        config: Mapping[str, str],
        secrets: Mapping[str, str],
        actor: str,
    ) -> tuple[ClusterProfile, bool]:
        """Create or replace; returns (profile, created). Omitted secrets keep their stored value.

        A key given in ``config`` drops a stored secret of the same name (it is no longer secret)."""
        _check_name("cluster", name)
        if not bootstrap_servers.strip():
            raise ValueError("bootstrap_servers must not be empty")
        plain = _string_map("config", config)
        secret = _string_map("secrets", secrets)
        both = sorted(plain.keys() & secret.keys())
        if both:
            raise ValueError(f"keys given both as config and as secrets: {', '.join(both)}")
        return self._retry_on_conflict(
            lambda: self._put_cluster(name, bootstrap_servers, plain, secret, actor)
        )

    def _put_cluster(
        self, name: str, bootstrap_servers: str, config: dict[str, str], secrets: dict[str, str], actor: str
    ) -> tuple[ClusterProfile, bool]:
        resource = f"clusters/{name}"
        with self._write() as session:
            now = _now()
            row = session.get(Cluster, name, with_for_update=True)
            if row is None:
                row = Cluster(
                    name=name,
                    bootstrap_servers=bootstrap_servers,
                    config=config,
                    secrets=secrets,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                _audit(
                    session,
                    actor,
                    "cluster.create",
                    resource,
                    {
                        "bootstrap_servers": bootstrap_servers,
                        "config_keys": _key_list(config),
                        "secret_keys": _key_list(secrets),
                    },
                )
                return _cluster_record(row), True
            kept_secrets = {key: value for key, value in row.secrets.items() if key not in config}
            merged_secrets = kept_secrets | secrets
            detail = {
                "changed_config_keys": _key_list(_changed_keys(row.config, config)),
                "changed_secret_keys": _key_list(_changed_keys(row.secrets, merged_secrets)),
            }
            if row.bootstrap_servers != bootstrap_servers:
                detail["bootstrap_servers"] = bootstrap_servers
            if (
                row.bootstrap_servers != bootstrap_servers
                or row.config != config
                or row.secrets != merged_secrets
            ):
                row.bootstrap_servers = bootstrap_servers
                row.config = config
                row.secrets = merged_secrets
                row.updated_at = now
            _audit(session, actor, "cluster.update", resource, detail)
            return _cluster_record(row), False

    def get_cluster(self, name: str) -> ClusterProfile | None:
        with self._read() as session:
            row = session.get(Cluster, name)
            return None if row is None else _cluster_record(row)

    def list_clusters(self) -> list[ClusterProfile]:
        with self._read() as session:
            return [_cluster_record(row) for row in session.scalars(select(Cluster).order_by(Cluster.name))]

    def delete_cluster(self, name: str, actor: str) -> None:
        """Raises NotFoundError, or InUseError if a flow names it."""
        with self._write() as session:
            row = session.get(Cluster, name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"cluster {name!r} does not exist")
            users = session.scalars(
                select(Flow.name)
                .where((Flow.source_cluster == name) | (Flow.target_cluster == name))
                .order_by(Flow.name)
            ).all()
            if users:
                raise InUseError(f"cluster {name!r} is used by flows {', '.join(users)}")
            session.delete(row)
            _audit(session, actor, "cluster.delete", f"clusters/{name}", {})

    # ---- connectors -----------------------------------------------------------------------------
    def create_connector(  # noqa: PLR0917 - the contract's signature, positional for its callers
        self,
        name: str,
        connector_class: str,
        config: Mapping[str, str],
        target_state: TargetState,
        actor: str,
        flow: str | None = None,
    ) -> ConnectorRecord:
        """Raises AlreadyExistsError."""
        _check_name("connector", name)
        state = _target_state(target_state)
        checked = _string_map("config", config)

        def create() -> ConnectorRecord:
            with self._write() as session:
                if flow is not None and session.get(Flow, flow) is None:
                    raise NotFoundError(f"flow {flow!r} does not exist")
                row = _new_connector(
                    session,
                    name=name,
                    connector_class=connector_class,
                    config=checked,
                    target_state=state,
                    flow=flow,
                )
                _audit(
                    session,
                    actor,
                    "connector.create",
                    f"connectors/{name}",
                    _connector_detail(row, changed_keys=checked.keys()),
                )
                return _connector_record(row)

        return self._retry_on_conflict(create)

    def get_connector(self, name: str) -> ConnectorRecord | None:
        with self._read() as session:
            row = session.get(Connector, name)
            return None if row is None else _connector_record(row)

    def list_connectors(self) -> list[ConnectorRecord]:
        """Sorted by name."""
        with self._read() as session:
            return [
                _connector_record(row) for row in session.scalars(select(Connector).order_by(Connector.name))
            ]

    def put_connector_config(
        self, name: str, connector_class: str, config: Mapping[str, str], actor: str
    ) -> tuple[ConnectorRecord, bool]:
        """Create (RUNNING) or replace the config; returns (record, created). Bumps ``generation``
        only if the config changed."""
        _check_name("connector", name)
        checked = _string_map("config", config)

        def put() -> tuple[ConnectorRecord, bool]:
            with self._write() as session:
                resource = f"connectors/{name}"
                row = session.get(Connector, name, with_for_update=True)
                if row is None:
                    row = _new_connector(
                        session,
                        name=name,
                        connector_class=connector_class,
                        config=checked,
                        target_state=TargetState.RUNNING,
                        flow=None,
                    )
                    detail = _connector_detail(row, changed_keys=checked.keys())
                    _audit(session, actor, "connector.create", resource, detail)
                    return _connector_record(row), True
                changed = _reconfigure(row, connector_class, checked, _now())
                _audit(session, actor, "connector.update", resource, _connector_detail(row, changed))
                return _connector_record(row), False

        return self._retry_on_conflict(put)

    def set_target_state(self, name: str, state: TargetState, actor: str) -> ConnectorRecord:
        """Raises NotFoundError."""
        wanted = _target_state(state)
        with self._write() as session:
            row = session.get(Connector, name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"connector {name!r} does not exist")
            if row.target_state != wanted:
                row.target_state = wanted
                row.updated_at = _now()
            _audit(session, actor, "connector.set_state", f"connectors/{name}", {"target_state": wanted})
            return _connector_record(row)

    def delete_connector(self, name: str, actor: str) -> None:
        """Deletes the connector, its states, task states and pending restarts. Raises NotFoundError."""
        with self._write() as session:
            row = session.get(Connector, name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"connector {name!r} does not exist")
            _delete_connectors(session, [name])
            _audit(session, actor, "connector.delete", f"connectors/{name}", {})

    def request_restart(
        self, name: str, task_id: int | None, include_tasks: bool, only_failed: bool, actor: str
    ) -> RestartRequest:
        """Raises NotFoundError if the connector does not exist."""
        with self._write() as session:
            if session.get(Connector, name) is None:
                raise NotFoundError(f"connector {name!r} does not exist")
            row = RestartRequestRow(
                connector=name,
                task_id=task_id,
                include_tasks=include_tasks,
                only_failed=only_failed,
                requested_at=_now(),
                handled_at=None,
            )
            session.add(row)
            session.flush()
            detail = {
                "task_id": "" if task_id is None else str(task_id),
                "include_tasks": str(include_tasks).lower(),
                "only_failed": str(only_failed).lower(),
            }
            _audit(session, actor, "connector.restart", f"connectors/{name}", detail)
            return _restart_record(row)

    def pending_restarts(self, connectors: Sequence[str]) -> list[RestartRequest]:
        """Unhandled restart requests for these connectors, oldest first."""
        if not connectors:
            return []
        with self._read() as session:
            rows = session.scalars(
                select(RestartRequestRow)
                .where(
                    RestartRequestRow.connector.in_(list(connectors)), RestartRequestRow.handled_at.is_(None)
                )
                .order_by(RestartRequestRow.id)
            )
            return [_restart_record(row) for row in rows]

    def finish_restart(self, request_id: int) -> None:
        """Marks the request handled; a request that is gone (its connector deleted) is ignored."""
        with self._write() as session:
            session.execute(
                update(RestartRequestRow)
                .where(RestartRequestRow.id == request_id, RestartRequestRow.handled_at.is_(None))
                .values(handled_at=_now())
            )

    # ---- assignment and workers (written by the service runtime) ------------------------------
    def hold_worker(
        self, worker_id: str, address: str, incarnation: datetime, max_age_s: float
    ) -> WorkerRecord | None:
        """Insert or refresh the row of ``worker_id`` for the process that started at
        ``incarnation`` (kept as the row's ``started_at``, so it tells processes apart).

        Refused while another process holds the id with a heartbeat at most ``max_age_s`` old:
        returns that holder's row, and nothing changes. None: the row is this process's."""
        _check_name("worker", worker_id)
        _check_aware("incarnation", incarnation)
        with self._write() as session:
            now = _now()
            statement = self._insert(Worker).values(
                worker_id=worker_id, address=address, started_at=incarnation, last_heartbeat=now
            )
            # One statement decides, so two processes starting at once cannot both win.
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[Worker.worker_id],
                    set_={
                        "address": statement.excluded.address,
                        "started_at": statement.excluded.started_at,
                        "last_heartbeat": statement.excluded.last_heartbeat,
                    },
                    where=(Worker.started_at == incarnation)
                    | (Worker.last_heartbeat < now - timedelta(seconds=max_age_s)),
                )
            )
            row = session.scalars(select(Worker).where(Worker.worker_id == worker_id)).one()
            if row.started_at == incarnation:
                return None
            return _worker_record(row)

    def live_workers(self, max_age_s: float) -> list[WorkerRecord]:
        """Workers whose last heartbeat is at most ``max_age_s`` old, sorted by id."""
        oldest = _now() - timedelta(seconds=max_age_s)
        with self._read() as session:
            rows = session.scalars(
                select(Worker).where(Worker.last_heartbeat >= oldest).order_by(Worker.worker_id)
            )
            return [_worker_record(row) for row in rows]

    def remove_worker(self, worker_id: str, incarnation: datetime | None = None) -> None:
        """A worker leaving cleanly: its row and its assignments go; its states stay until reassigned.

        With ``incarnation``, only if the row is still that process's (another may have taken the id)."""
        with self._write() as session:
            if incarnation is not None and not session.scalar(
                select(exists().where(Worker.worker_id == worker_id, Worker.started_at == incarnation))
            ):
                return
            session.execute(
                update(Connector).where(Connector.assigned_worker == worker_id).values(assigned_worker=None)
            )
            session.execute(delete(Worker).where(Worker.worker_id == worker_id))

    def assign(self, assignments: Mapping[str, str | None]) -> None:
        """Set ``assigned_worker`` of each named connector (None = unassigned).

        Connectors deleted meanwhile are skipped."""
        if not assignments:
            return
        with self._write() as session:
            for connector, worker_id in sorted(assignments.items()):
                session.execute(
                    update(Connector).where(Connector.name == connector).values(assigned_worker=worker_id)
                )

    # ---- observed status (written by the worker that runs the connector) ----------------------
    def report_status(
        self, worker_id: str, connectors: Sequence[ConnectorState], tasks: Sequence[TaskState]
    ) -> None:
        """Upsert these states; for each connector in ``connectors``, task rows not in ``tasks``
        are removed (a connector that shrank to fewer tasks).

        Rows are stored under ``worker_id``, the reporting worker; states of connectors deleted
        meanwhile are dropped."""
        named = {state.name for state in connectors} | {task.connector for task in tasks}
        if not named:
            return
        for state in connectors:
            _check_aware(f"updated_at of connector {state.name}", state.updated_at)
        for task in tasks:
            _check_aware(f"updated_at of task {task.connector}-{task.task_id}", task.updated_at)
        with self._write() as session:
            existing = set(
                session.scalars(
                    select(Connector.name).where(Connector.name.in_(sorted(named))).with_for_update(read=True)
                )
            )
            # Rows in one order for every reporter: two workers reporting during a handover never deadlock.
            for state in sorted(connectors, key=lambda state: state.name):
                if state.name in existing:
                    self._upsert_connector_state(session, worker_id, state)
            for task in sorted(tasks, key=lambda task: (task.connector, task.task_id)):
                if task.connector in existing:
                    self._upsert_task_state(session, worker_id, task)
            for state in connectors:
                if state.name not in existing:
                    continue
                reported = [task.task_id for task in tasks if task.connector == state.name]
                session.execute(
                    delete(TaskStateRow).where(
                        TaskStateRow.connector == state.name, TaskStateRow.task_id.not_in(reported)
                    )
                )

    def _upsert_connector_state(self, session: Session, worker_id: str, state: ConnectorState) -> None:
        statement = self._insert(ConnectorStateRow).values(
            connector=state.name,
            state=state.state,
            worker_id=worker_id,
            trace=state.trace,
            updated_at=state.updated_at,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[ConnectorStateRow.connector],
                set_={
                    "state": statement.excluded.state,
                    "worker_id": statement.excluded.worker_id,
                    "trace": statement.excluded.trace,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    def _upsert_task_state(self, session: Session, worker_id: str, task: TaskState) -> None:
        statement = self._insert(TaskStateRow).values(
            connector=task.connector,
            task_id=task.task_id,
            state=task.state,
            worker_id=worker_id,
            trace=task.trace,
            detail=task.detail,
            updated_at=task.updated_at,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[TaskStateRow.connector, TaskStateRow.task_id],
                set_={
                    "state": statement.excluded.state,
                    "worker_id": statement.excluded.worker_id,
                    "trace": statement.excluded.trace,
                    "detail": statement.excluded.detail,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    def connector_state(self, name: str) -> ConnectorState | None:
        with self._read() as session:
            return status_reads.connector_state(session, name)

    def task_states(self, name: str) -> list[TaskState]:
        """Sorted by task id."""
        with self._read() as session:
            return status_reads.task_states(session, name)

    def all_statuses(self) -> status_reads.Statuses:
        """Every connector's observed status in a fixed number of queries (for lists and /metrics)."""
        with self._read() as session:
            return status_reads.all_statuses(session)

    # ---- flows ------------------------------------------------------------------------------------
    def create_flow(  # noqa: PLR0917 - the contract's signature, positional for its callers
        self,
        name: str,
        source_cluster: str,
        target_cluster: str,
        config: Mapping[str, str],
        connectors: Mapping[str, tuple[str, Mapping[str, str]]],
        target_state: TargetState,
        actor: str,
    ) -> FlowRecord:
        """Create the flow and its connectors (name -> (class, config)) in one transaction.
        Raises AlreadyExistsError (flow or a connector name), NotFoundError (a cluster)."""
        _check_name("flow", name)
        state = _target_state(target_state)
        flow_config = _string_map("config", config)
        members = _flow_connectors(connectors)

        def create() -> FlowRecord:
            with self._write() as session:
                for cluster in (source_cluster, target_cluster):
                    if session.get(Cluster, cluster) is None:
                        raise NotFoundError(f"cluster {cluster!r} does not exist")
                if session.get(Flow, name) is not None:
                    raise AlreadyExistsError(f"flow {name!r} exists")
                now = _now()
                row = Flow(
                    name=name,
                    source_cluster=source_cluster,
                    target_cluster=target_cluster,
                    config=flow_config,
                    target_state=state,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                for connector_name, (connector_class, connector_config) in members.items():
                    _new_connector(
                        session,
                        name=connector_name,
                        connector_class=connector_class,
                        config=connector_config,
                        target_state=state,
                        flow=name,
                    )
                detail = {
                    "source_cluster": source_cluster,
                    "target_cluster": target_cluster,
                    "target_state": state,
                    "config_keys": _key_list(flow_config),
                    "connectors": _key_list(members),
                }
                _audit(session, actor, "flow.create", f"flows/{name}", detail)
                return _flow_record(session, row)

        return self._retry_on_conflict(create)

    def get_flow(self, name: str) -> FlowRecord | None:
        with self._read() as session:
            row = session.get(Flow, name)
            return None if row is None else _flow_record(session, row)

    def list_flows(self) -> list[FlowRecord]:
        """Sorted by name."""
        with self._read() as session:
            return [_flow_record(session, row) for row in session.scalars(select(Flow).order_by(Flow.name))]

    def update_flow(
        self,
        name: str,
        config: Mapping[str, str],
        connectors: Mapping[str, tuple[str, Mapping[str, str]]],
        actor: str,
    ) -> FlowRecord:
        """Replace the flow's config and its connectors' configs (generation bumped where changed).

        Connectors new to the flow are created in the flow's target state; its connectors missing
        from ``connectors`` are deleted. Raises NotFoundError, or AlreadyExistsError if a new connector's
        name belongs to another connector."""
        flow_config = _string_map("config", config)
        members = _flow_connectors(connectors)

        def replace() -> FlowRecord:
            with self._write() as session:
                row = session.get(Flow, name, with_for_update=True)
                if row is None:
                    raise NotFoundError(f"flow {name!r} does not exist")
                now = _now()
                owned = {
                    connector.name: connector
                    for connector in session.scalars(
                        select(Connector).where(Connector.flow == name).with_for_update()
                    )
                }
                changed: list[str] = []
                added: list[str] = []
                for connector_name, (connector_class, connector_config) in sorted(members.items()):
                    current = owned.get(connector_name)
                    if current is None:
                        _new_connector(
                            session,
                            name=connector_name,
                            connector_class=connector_class,
                            config=connector_config,
                            target_state=TargetState(row.target_state),
                            flow=name,
                        )
                        added.append(connector_name)
                    elif _reconfigure(current, connector_class, connector_config, now):
                        changed.append(connector_name)
                removed = sorted(owned.keys() - members.keys())
                _delete_connectors(session, removed)
                changed_keys = _changed_keys(row.config, flow_config)
                if changed_keys or changed or added or removed:
                    row.config = flow_config
                    row.updated_at = now
                detail = {
                    "changed_config_keys": _key_list(changed_keys),
                    "changed_connectors": _key_list(changed),
                    "added_connectors": _key_list(added),
                    "removed_connectors": _key_list(removed),
                }
                _audit(session, actor, "flow.update", f"flows/{name}", detail)
                return _flow_record(session, row)

        return self._retry_on_conflict(replace)

    def set_flow_state(self, name: str, state: TargetState, actor: str) -> FlowRecord:
        """The flow's target state and every one of its connectors' target states. Raises NotFoundError."""
        wanted = _target_state(state)
        with self._write() as session:
            row = session.get(Flow, name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"flow {name!r} does not exist")
            now = _now()
            if row.target_state != wanted:
                row.target_state = wanted
                row.updated_at = now
            session.execute(
                update(Connector)
                .where(Connector.flow == name, Connector.target_state != wanted)
                .values(target_state=wanted, updated_at=now)
            )
            _audit(session, actor, "flow.set_state", f"flows/{name}", {"target_state": wanted})
            return _flow_record(session, row)

    def delete_flow(self, name: str, actor: str) -> None:
        """The flow and its connectors. Raises NotFoundError."""
        with self._write() as session:
            row = session.get(Flow, name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"flow {name!r} does not exist")
            members = list(session.scalars(select(Connector.name).where(Connector.flow == name)))
            _delete_connectors(session, members)
            session.execute(delete(FlowLagLatest).where(FlowLagLatest.flow == name))
            # Naming every tier makes the delete ranges of the (tier, flow, at_s) index, not a table scan.
            session.execute(
                delete(LagPointRow).where(
                    LagPointRow.tier.in_([tier.name for tier in TIERS]), LagPointRow.flow == name
                )
            )
            session.delete(row)
            _audit(session, actor, "flow.delete", f"flows/{name}", {"connectors": _key_list(members)})

    # ---- lag samples and history -------------------------------------------------------------------
    def record_lag(self, sample: FlowLag) -> None:
        """Keep ``sample`` as the flow's newest, and one raw history point per partition at
        ``int(sample.at_s)`` (a second sample of the flow in the same second replaces its points).

        A sample of a flow that does not exist (deleted while it was measured) is dropped, so a
        deleted flow's lag never comes back."""
        at_s = int(sample.at_s)
        points = [
            {
                "tier": RAW_TIER.name,
                "flow": sample.flow,
                "topic": lag.topic,
                "partition": lag.partition,
                "at_s": at_s,
                "records": lag.records,
                "seconds": lag.seconds,
            }
            for lag in sample.partitions
        ]
        with self._write() as session:
            flow_exists = session.scalar(
                select(Flow.name).where(Flow.name == sample.flow).with_for_update(read=True)
            )
            if flow_exists is None:
                return
            latest = self._insert(FlowLagLatest).values(
                flow=sample.flow, at_s=sample.at_s, sample=json.dumps(sample.to_json())
            )
            session.execute(
                latest.on_conflict_do_update(
                    index_elements=[FlowLagLatest.flow],
                    set_={"at_s": latest.excluded.at_s, "sample": latest.excluded.sample},
                )
            )
            _upsert_points(session, self._insert(LagPointRow), points)

    def latest_lag(self, flow: str) -> FlowLag | None:
        with self._read() as session:
            row = session.get(FlowLagLatest, flow)
            return None if row is None else FlowLag.from_json(json.loads(row.sample))

    def latest_lags(self) -> list[FlowLag]:
        """The newest sample of every flow that exists and has one, by flow name."""
        with self._read() as session:
            rows = session.scalars(
                select(FlowLagLatest).join(Flow, Flow.name == FlowLagLatest.flow).order_by(FlowLagLatest.flow)
            )
            return [FlowLag.from_json(json.loads(row.sample)) for row in rows]

    def compact_lag(self, now_s: int) -> None:
        """Roll completed buckets of each tier into the next (each bucket once), expire old points.

        A bucket is complete when ``now_s >= start + step``. Idempotent: a bucket is rolled up only
        when the coarser tier has nothing at or after it, and everything happens in one transaction,
        so a rerun or a crash half-way changes nothing. Cheap to call every few seconds: per flow,
        every query is a range of the (tier, flow, at_s) index over rows not rolled up or expired yet.
        The flows come from ``flow_lag_latest``: ``record_lag`` and ``delete_flow`` keep a flow's
        points and its newest sample together."""
        with self._write() as session:
            insert = self._insert(LagPointRow)
            for flow in list(session.scalars(select(FlowLagLatest.flow).order_by(FlowLagLatest.flow))):
                for finer, coarser in itertools.pairwise(TIERS):
                    _roll_up_completed(session, insert, flow, (finer, coarser), now_s)
                for tier in TIERS:
                    session.execute(
                        delete(LagPointRow).where(
                            LagPointRow.tier == tier.name,
                            LagPointRow.flow == flow,
                            LagPointRow.at_s < expired_before(tier, now_s),
                        )
                    )

    def lag_history(
        self,
        *,
        since_s: int,
        until_s: int,
        flow: str | None = None,
        topic: str | None = None,
        now_s: int | None = None,
    ) -> LagHistory:
        """Per-topic lag from the finest tier whose retention still covers ``since_s``."""
        if until_s < since_s:
            raise ValueError("until must not be before since")
        now = int(time.time()) if now_s is None else now_s
        tier = next((tier for tier in TIERS if expired_before(tier, now) <= since_s), TIERS[-1])
        query = _point_query().where(
            LagPointRow.tier == tier.name, LagPointRow.at_s >= since_s, LagPointRow.at_s <= until_s
        )
        if flow is not None:
            query = query.where(LagPointRow.flow == flow)
        if topic is not None:
            query = query.where(LagPointRow.topic == topic)
        with self._read() as session:
            points = [_lag_point(row) for row in session.execute(query)]
        if tier.per_partition:
            points = roll_up(points, tier.step_s)
        return LagHistory(tier.name, tier.step_s, tuple(sorted(points, key=_history_order)))

    # ---- schedules ---------------------------------------------------------------------------------
    def create_schedule(  # noqa: PLR0917 - the contract's signature, positional for its callers
        self, schedule_id: str, action: str, target: str, trigger: str, spec: str, enabled: bool, actor: str
    ) -> ScheduleRecord:
        """Raises AlreadyExistsError."""
        _check_name("schedule", schedule_id)

        def create() -> ScheduleRecord:
            with self._write() as session:
                if session.get(Schedule, schedule_id) is not None:
                    raise AlreadyExistsError(f"schedule {schedule_id!r} exists")
                row = Schedule(
                    id=schedule_id,
                    action=action,
                    target=target,
                    trigger=trigger,
                    spec=spec,
                    enabled=enabled,
                    created_at=_now(),
                )
                session.add(row)
                session.flush()
                detail = {
                    "action": action,
                    "target": target,
                    "trigger": trigger,
                    "spec": spec,
                    "enabled": str(enabled).lower(),
                }
                _audit(session, actor, "schedule.create", f"schedules/{schedule_id}", detail)
                return _schedule_record(row)

        return self._retry_on_conflict(create)

    def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        with self._read() as session:
            row = session.get(Schedule, schedule_id)
            return None if row is None else _schedule_record(row)

    def list_schedules(self) -> list[ScheduleRecord]:
        """Sorted by id."""
        with self._read() as session:
            return [_schedule_record(row) for row in session.scalars(select(Schedule).order_by(Schedule.id))]

    def delete_schedule(self, schedule_id: str, actor: str) -> None:
        """The schedule and its runs. Raises NotFoundError."""
        with self._write() as session:
            row = session.get(Schedule, schedule_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"schedule {schedule_id!r} does not exist")
            session.execute(delete(ScheduleRunRow).where(ScheduleRunRow.schedule_id == schedule_id))
            session.delete(row)
            _audit(session, actor, "schedule.delete", f"schedules/{schedule_id}", {})

    def claim_run(self, schedule_id: str, scheduled_for: datetime, worker_id: str) -> bool:
        """Record that this firing runs here; False if any process claimed it already
        (a unique constraint on (schedule_id, scheduled_for) decides). False too if the
        schedule is gone."""
        _check_aware("scheduled_for", scheduled_for)
        try:
            with self._write() as session:
                if session.get(Schedule, schedule_id) is None:
                    return False
                statement = (
                    self._insert(ScheduleRunRow)
                    .values(
                        schedule_id=schedule_id,
                        scheduled_for=scheduled_for,
                        worker_id=worker_id,
                        started_at=_now(),
                    )
                    .on_conflict_do_nothing(
                        index_elements=[ScheduleRunRow.schedule_id, ScheduleRunRow.scheduled_for]
                    )
                    .returning(ScheduleRunRow.id)
                )
                return session.execute(statement).first() is not None
        except IntegrityError:  # the schedule was deleted between the check and the insert
            return False

    def finish_run(self, schedule_id: str, scheduled_for: datetime, outcome: str) -> None:
        """Stamp the claimed firing finished with ``outcome``; a run that is gone is ignored."""
        _check_aware("scheduled_for", scheduled_for)
        with self._write() as session:
            session.execute(
                update(ScheduleRunRow)
                .where(
                    ScheduleRunRow.schedule_id == schedule_id, ScheduleRunRow.scheduled_for == scheduled_for
                )
                .values(finished_at=_now(), outcome=outcome)
            )

    def schedule_runs(self, schedule_id: str, limit: int = 100) -> list[ScheduleRun]:
        """Newest first."""
        with self._read() as session:
            rows = session.scalars(
                select(ScheduleRunRow)
                .where(ScheduleRunRow.schedule_id == schedule_id)
                .order_by(ScheduleRunRow.scheduled_for.desc())
                .limit(limit)
            )
            return [
                ScheduleRun(
                    schedule_id=row.schedule_id,
                    scheduled_for=row.scheduled_for,
                    worker_id=row.worker_id,
                    started_at=row.started_at,
                    finished_at=row.finished_at,
                    outcome=row.outcome,
                )
                for row in rows
            ]

    # ---- leadership (one scheduler and one assigner across processes) ---------------------------
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the lease if free, expired, or already ours (then renew); atomic across processes."""
        if ttl_s <= 0:
            raise ValueError(f"lease ttl_s must be positive, not {ttl_s}")
        now = _now()
        with self._write() as session:
            statement = self._insert(LeaseRow).values(
                name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_s)
            )
            # One statement: the row lock (PostgreSQL) or the write lock (SQLite) makes it atomic.
            taken = statement.on_conflict_do_update(
                index_elements=[LeaseRow.name],
                set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
                where=(LeaseRow.holder == holder) | (LeaseRow.expires_at < now),
            ).returning(LeaseRow.holder)
            return session.execute(taken).first() is not None

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up if ``holder`` holds it (else nothing happens)."""
        with self._write() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))

    # ---- tokens -------------------------------------------------------------------------------------
    def create_token(self, name: str, role: Role, actor: str) -> tuple[ApiToken, str]:
        """Returns the record and the secret token, shown once; only a hash is stored.

        Raises AlreadyExistsError if a token has this name."""
        _check_name("token", name)
        try:
            checked_role = Role(role)
        except ValueError:
            raise ValueError(f"role must be one of {', '.join(Role)}, not {role!r}") from None
        token_id = random_secrets.token_hex(8)
        secret_part = random_secrets.token_urlsafe(32)
        with self._write() as session:
            if session.scalar(select(exists().where(ApiTokenRow.name == name))):
                raise AlreadyExistsError(f"token {name!r} exists")
            row = ApiTokenRow(
                id=token_id,
                name=name,
                role=checked_role,
                secret_hash=_token_hash(secret_part),
                created_at=_now(),
                last_used_at=None,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise AlreadyExistsError(f"token {name!r} exists") from None
            _audit(session, actor, "token.create", f"tokens/{token_id}", {"name": name, "role": checked_role})
            return token_record(row), f"{token_id}{TOKEN_SEPARATOR}{secret_part}"

    def authenticate(self, token: str) -> ApiToken | None:
        """The token's record if it matches a stored hash (constant-time compare); updates last_used_at
        (at most once a minute per token)."""
        token_id, separator, secret_part = token.partition(TOKEN_SEPARATOR)
        if not separator or not token_id or not secret_part:
            return None
        with self._read() as session:
            row = session.get(ApiTokenRow, token_id)
        # An unknown id costs the same hash and compare as a wrong secret.
        stored_hash = row.secret_hash if row is not None else _token_hash("")
        matches = hmac.compare_digest(_token_hash(secret_part), stored_hash)
        if row is None or not matches:
            return None
        now = _now()
        if row.last_used_at is None or now - row.last_used_at >= TOKEN_LAST_USED_RESOLUTION:
            with self._write() as session:
                session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now)
                )
            row.last_used_at = now
        return token_record(row)

    def has_tokens(self) -> bool:
        with self._read() as session:
            return session.scalar(select(ApiTokenRow.id).limit(1)) is not None

    def list_tokens(self) -> list[ApiToken]:
        """Sorted by name."""
        with self._read() as session:
            return [
                token_record(row) for row in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))
            ]

    def revoke_token(self, token_id: str, actor: str) -> None:
        """Raises NotFoundError."""
        with self._write() as session:
            row = session.get(ApiTokenRow, token_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"token {token_id!r} does not exist")
            session.delete(row)
            _audit(session, actor, "token.revoke", f"tokens/{token_id}", {"name": row.name})

    # ---- audit ----------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, resource: str, detail: Mapping[str, str] | None = None) -> None:
        """For operator actions that do not change a stored resource (e.g. an offsets reset)."""
        checked = _string_map("detail", detail or {})
        with self._write() as session:
            _audit(session, actor, action, resource, checked)

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        with self._read() as session:
            rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [
                AuditEntry(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    resource=row.resource,
                    detail=dict(row.detail),
                )
                for row in rows
            ]

    # ---- health ------------------------------------------------------------------------------------
    def check_writable(self) -> None:
        """Commit a write that changes nothing; raises what any write would raise now (a read-only
        or deleted file, a full disk, a lost connection). Alembic's one-row version table is the
        row: every migrated database has it, and nothing reads it while serving."""
        with self._write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))

    # ---- transactions -------------------------------------------------------------------------------
    def _retry_on_conflict(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` once more if a concurrent transaction inserted the same key first: the
        second run sees that row and updates it or raises AlreadyExistsError/NotFoundError as it should."""
        try:
            return attempt()
        except IntegrityError:
            return attempt()

    def _insert(self, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
        if self._backend == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)


# ---- helpers -----------------------------------------------------------------------------------------
RAW_TIER = TIERS[0]
ROLLED_UP_PARTITION = -1
"""``lag_points.partition`` of a per-topic roll-up (a key column, so not NULL)."""


def _upsert_points(
    session: Session, insert: postgresql.Insert | sqlite.Insert, points: Sequence[Mapping[str, object]]
) -> None:
    if not points:
        return
    statement = insert.on_conflict_do_update(
        index_elements=[
            LagPointRow.tier,
            LagPointRow.flow,
            LagPointRow.topic,
            LagPointRow.partition,
            LagPointRow.at_s,
        ],
        set_={"records": insert.excluded.records, "seconds": insert.excluded.seconds},
    )
    session.execute(statement, list(points))


def _roll_up_completed(
    session: Session,
    insert: postgresql.Insert | sqlite.Insert,
    flow: str,
    tiers: tuple[Tier, Tier],
    now_s: int,
) -> None:
    """Roll ``finer`` points of ``flow`` into the ``coarser`` buckets that are complete at ``now_s``
    and not rolled up yet (those after the coarser tier's newest bucket)."""
    finer, coarser = tiers
    newest = session.scalar(
        select(func.max(LagPointRow.at_s)).where(LagPointRow.tier == coarser.name, LagPointRow.flow == flow)
    )
    first_open = bucket_start(now_s, coarser.step_s)
    query = _point_query().where(
        LagPointRow.tier == finer.name, LagPointRow.flow == flow, LagPointRow.at_s < first_open
    )
    if newest is not None:
        query = query.where(LagPointRow.at_s >= newest + coarser.step_s)
    points = [_lag_point(row) for row in session.execute(query)]
    _upsert_points(
        session,
        insert,
        [
            {
                "tier": coarser.name,
                "flow": point.flow,
                "topic": point.topic,
                "partition": ROLLED_UP_PARTITION,
                "at_s": point.at_s,
                "records": point.records,
                "seconds": point.seconds,
            }
            for point in roll_up(points, coarser.step_s)
        ],
    )


def _point_query() -> Select[str, str, int, int, int, float | None]:
    # Plain columns, not ORM rows: a history read can be hundreds of thousands of points.
    return select(
        LagPointRow.flow,
        LagPointRow.topic,
        LagPointRow.partition,
        LagPointRow.at_s,
        LagPointRow.records,
        LagPointRow.seconds,
    )


def _lag_point(row: Row[str, str, int, int, int, float | None]) -> LagPoint:
    flow, topic, partition, at_s, records, seconds = row
    return LagPoint(
        flow, topic, None if partition == ROLLED_UP_PARTITION else partition, at_s, records, seconds
    )


def _history_order(point: LagPoint) -> tuple[str, str, int]:
    return (point.flow, point.topic, point.at_s)


def _worker_record(row: Worker) -> WorkerRecord:
    return WorkerRecord(
        worker_id=row.worker_id,
        address=row.address,
        started_at=row.started_at,
        last_heartbeat=row.last_heartbeat,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_LENGTH:
        raise ValueError(f"{kind} name must be 1 to {NAME_LENGTH} characters, not {name!r}")


def _check_aware(field: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} has no time zone ({value.isoformat()}): pass an aware datetime")


def _string_map(field: str, values: Mapping[str, str]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"{field}: key {key!r} must map a string to a string")
        checked[key] = value
    return checked


def _target_state(state: TargetState | str) -> TargetState:
    try:
        return TargetState(state)
    except ValueError:
        raise ValueError(f"target state must be one of {', '.join(TargetState)}, not {state!r}") from None


def _flow_connectors(
    connectors: Mapping[str, tuple[str, Mapping[str, str]]],
) -> dict[str, tuple[str, dict[str, str]]]:
    checked: dict[str, tuple[str, dict[str, str]]] = {}
    for name, (connector_class, config) in connectors.items():
        _check_name("connector", name)
        checked[name] = (connector_class, _string_map(f"connector {name} config", config))
    return checked


def _changed_keys(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def _key_list(keys: Iterable[str]) -> str:
    return ",".join(sorted(keys))


def _audit(session: Session, actor: str, action: str, resource: str, detail: Mapping[str, str]) -> None:
    session.add(AuditRow(at=_now(), actor=actor, action=action, resource=resource, detail=dict(detail)))


def _new_connector(
    session: Session,
    *,
    name: str,
    connector_class: str,
    config: dict[str, str],
    target_state: TargetState,
    flow: str | None,
) -> Connector:
    _check_name("connector", name)
    if session.get(Connector, name) is not None:
        raise AlreadyExistsError(f"connector {name!r} exists")
    now = _now()
    row = Connector(
        name=name,
        connector_class=connector_class,
        config=config,
        target_state=target_state,
        generation=1,
        flow=flow,
        assigned_worker=None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _reconfigure(row: Connector, connector_class: str, config: dict[str, str], now: datetime) -> list[str]:
    """Apply a new class and config; returns the changed key names (``connector.class`` if the class
    changed) and bumps the generation if any."""
    changed = _changed_keys(row.config, config)
    if row.connector_class != connector_class and "connector.class" not in changed:
        changed = sorted([*changed, "connector.class"])
    if changed:
        row.connector_class = connector_class
        row.config = config
        row.generation += 1
        row.updated_at = now
    return changed


def _delete_connectors(session: Session, names: Sequence[str]) -> None:
    if not names:
        return
    # The foreign keys cascade too; deleting the children explicitly keeps that visible here.
    for child in (ConnectorStateRow, TaskStateRow, RestartRequestRow):
        session.execute(delete(child).where(child.connector.in_(names)))
    session.execute(delete(Connector).where(Connector.name.in_(names)))


def _connector_detail(row: Connector, changed_keys: Iterable[str]) -> dict[str, str]:
    """Key names only: connector configs can hold credentials of the clusters they connect to."""
    detail = {
        "connector_class": row.connector_class,
        "target_state": row.target_state,
        "generation": str(row.generation),
        "changed_keys": _key_list(changed_keys),
    }
    if row.flow is not None:
        detail["flow"] = row.flow
    return detail


def _token_hash(secret_part: str) -> str:
    return hashlib.sha256(secret_part.encode()).hexdigest()


def _cluster_record(row: Cluster) -> ClusterProfile:
    return ClusterProfile(
        name=row.name,
        bootstrap_servers=row.bootstrap_servers,
        config=dict(row.config),
        secrets=dict(row.secrets),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _connector_record(row: Connector) -> ConnectorRecord:
    return ConnectorRecord(
        name=row.name,
        connector_class=row.connector_class,
        config=dict(row.config),
        target_state=TargetState(row.target_state),
        generation=row.generation,
        flow=row.flow,
        assigned_worker=row.assigned_worker,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _restart_record(row: RestartRequestRow) -> RestartRequest:
    return RestartRequest(
        id=row.id,
        connector=row.connector,
        task_id=row.task_id,
        include_tasks=row.include_tasks,
        only_failed=row.only_failed,
        requested_at=row.requested_at,
    )


def _flow_record(session: Session, row: Flow) -> FlowRecord:
    members = session.scalars(
        select(Connector.name).where(Connector.flow == row.name).order_by(Connector.name)
    )
    return FlowRecord(
        name=row.name,
        source_cluster=row.source_cluster,
        target_cluster=row.target_cluster,
        config=dict(row.config),
        target_state=TargetState(row.target_state),
        connectors=tuple(members),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _schedule_record(row: Schedule) -> ScheduleRecord:
    return ScheduleRecord(
        id=row.id,
        action=row.action,
        target=row.target,
        trigger=row.trigger,
        spec=row.spec,
        enabled=row.enabled,
        created_at=row.created_at,
    )
