"""``mirror failover`` / ``mirror failback``: gather facts, plan, commit (unless dry), report."""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import replace
from typing import TextIO

from mirror.config.mm2 import MirrorMakerConfig
from mirror.kafka import GroupOffset, KafkaClientError
from mirror.runbook.facts import Clients, Request, gather
from mirror.runbook.plan import (
    EXIT_BAD_CONFIG,
    EXIT_REFUSED,
    Direction,
    FailoverPlan,
    make_plan,
    render_text,
    to_json,
    with_write_failures,
)
from mirror.runbook.service_flow import FlowStopError, ServiceFlow, source_connector, stop_and_wait

log = logging.getLogger("mirror.runbook")

EXIT_FAILURE = 1


def _commit(plan: FailoverPlan, clients: Clients) -> FailoverPlan:
    """Write every planned commit; a group the destination refuses is reported, the rest proceed."""
    failures: dict[str, str] = {}
    for group in plan.groups:
        commits = group.commits()
        if not commits:
            continue
        offsets = {tp: GroupOffset(offset, metadata) for tp, (offset, metadata) in commits.items()}
        try:
            clients.to_admin.alter_group_offsets(group.group, offsets)
        except KafkaClientError as exc:
            # Typically a consumer joined the group since it was described.
            failures[group.group] = str(exc)
            continue
        log.info("group offsets committed", extra={"group": group.group, "partitions": len(offsets)})
    return with_write_failures(plan, failures)


def _with_source_connector(
    config: MirrorMakerConfig, source: str, target: str, name: str
) -> MirrorMakerConfig:
    """The file's flow, with the source connector named as the service names it: the flow's
    progress (source offsets) is stored under that name."""
    flows = tuple(
        replace(flow, source_connector={**flow.source_connector, "name": name})
        if (flow.source, flow.target) == (source, target)
        else flow
        for flow in config.flows
    )
    return replace(config, flows=flows)


def run_runbook(
    config: MirrorMakerConfig,
    direction: Direction,
    from_cluster: str,
    to_cluster: str,
    *,
    groups: str | None,
    dry_run: bool,
    as_json: bool,
    force: bool,
    service: ServiceFlow | None = None,
    out: TextIO = sys.stdout,
) -> int:
    flow_source, flow_target = (
        (from_cluster, to_cluster) if direction == "failover" else (to_cluster, from_cluster)
    )
    problems = [
        f"unknown cluster {alias!r}" for alias in (from_cluster, to_cluster) if alias not in config.clusters
    ]
    if from_cluster == to_cluster:
        problems.append("--from and --to name the same cluster")
    pattern: re.Pattern[str] | None = None
    try:
        pattern = None if groups is None else re.compile(groups)
    except re.error as exc:
        problems.append(f"--groups is not a regular expression: {exc}")
    if not problems:
        try:
            config.flow(flow_source, flow_target)
        except KeyError:
            problems.append(f"the file defines no {flow_source}->{flow_target} flow")
    if problems:
        print("mirror: configuration refused:\n" + "\n".join(problems), file=sys.stderr)
        return EXIT_BAD_CONFIG

    if service is not None:
        try:
            config = _with_source_connector(config, flow_source, flow_target, source_connector(service))
            if not dry_run:
                stop_and_wait(service)
                log.info("flow stopped through the service", extra={"flow": service.name})
        except FlowStopError as exc:
            print(f"mirror: {direction} refused, nothing was changed: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    request = Request(config, direction, from_cluster, to_cluster, pattern)
    clients: Clients | None = None
    try:
        facts, clients = gather(request)
        plan = make_plan(
            facts, dry_run=dry_run, force=force, stops_flow=None if service is None else service.name
        )
        if not plan.refused and not dry_run and clients is not None:
            plan = _commit(plan, clients)
    except KafkaClientError as exc:
        print(f"mirror: {direction} failed, nothing was committed after this error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if clients is not None:
            clients.close()
    out.write(to_json(plan) if as_json else render_text(plan))
    return plan.exit_code
