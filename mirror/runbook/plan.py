"""Failover and failback plans: what to commit where, and what would be lost. Pure: no I/O, no clocks.

The facts gatherer (``mirror.runbook.facts``) reads both clusters; this module decides. Keeping
the decision pure means every refusal, skip and "already done" case is unit-tested without
Kafka, and a dry run shows exactly the plan a real run would execute.

Vocabulary: the group moves from cluster ``from`` (A on failover) to cluster ``to`` (B). Each
row is one partition the group committed on ``from``; ``to_offset`` is where the group resumes
on ``to`` and ``current_to_offset`` what it has committed there already.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from mirror.translation import BeyondReplicated, Exact, OffsetMap, Translation

EXIT_OK = 0
EXIT_BAD_CONFIG = 2
EXIT_PARTIAL = 3
EXIT_REFUSED = 4

IDLE_GROUP_STATES = frozenset({"EMPTY", "DEAD", "UNKNOWN"})
"""States in which the broker accepts offsets from an admin client (no member owns partitions)."""

Direction = Literal["failover", "failback"]
Exactness = Literal["exact", "beyond-replicated", "from-checkpoint"]
GroupAction = Literal["commit", "already-done", "skip-active", "skip-untranslatable", "write-failed"]
PartitionAction = Literal["commit", "already-done", "untranslatable"]


# ---- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The group resumes at ``offset`` on the destination cluster."""

    offset: int
    exactness: Exactness


@dataclass(frozen=True)
class Unresolved:
    """No safe destination offset; nothing is committed for the group."""

    reason: str


Resolution = Resolved | Unresolved


def from_translation(translation: Translation) -> Resolution:
    """Forward (failover) translation result as a plan input."""
    if isinstance(translation, Exact):
        return Resolved(translation.downstream_offset, "exact")
    if isinstance(translation, BeyondReplicated):
        # Safe: never past unreplicated data; the group re-reads what it consumed but B lacked.
        return Resolved(translation.safe_downstream_offset, "beyond-replicated")
    return Unresolved(translation.reason)


def reverse_translate(offset_map: OffsetMap | None, committed_downstream: int) -> Resolution:
    """Failback: the upstream offset a group that committed ``committed_downstream`` resumes at.

    The group has consumed every downstream record below ``committed_downstream``, so it resumes
    upstream at the record copied to ``committed_downstream`` (upstream offsets skipped before it
    are transaction markers or compacted records a consumer would not see either). A group at the
    end of the replicated data resumes after the last replicated upstream record: what the
    source received later was never delivered to it.
    """
    if offset_map is None:
        return Unresolved("no offset syncs for this partition")
    latest = offset_map.latest()
    if latest is None:
        return Unresolved("no offset syncs for this partition")
    latest_upstream, latest_downstream = latest
    if committed_downstream > latest_downstream:
        exactness: Exactness = (
            "exact" if committed_downstream == latest_downstream + 1 else "beyond-replicated"
        )
        return Resolved(latest_upstream + 1, exactness)
    upstream = offset_map.upstream_at(committed_downstream)
    if upstream is None:
        return Unresolved(f"downstream offset {committed_downstream} precedes the known replication history")
    return Resolved(upstream, "exact")


@dataclass(frozen=True)
class PartitionFacts:
    from_topic: str
    to_topic: str
    partition: int
    from_offset: int | None
    """Committed on the origin cluster; None when only a checkpoint is known and it lacks one."""
    resolution: Resolution
    current_to_offset: int | None
    metadata: str = ""
    source_end_offset: int | None = None
    last_replicated_offset: int | None = None
    oldest_unreplicated_timestamp_ms: int | None = None
    unreplicated_records: int | None = None
    """Committed records after the last replicated one, when they were counted to the end."""


@dataclass(frozen=True)
class GroupFacts:
    group: str
    state_on_to: str
    partitions: tuple[PartitionFacts, ...]


@dataclass(frozen=True)
class Preflight:
    from_reachable: bool
    flow_replicating: bool
    """The flow still made progress during the observation window (or its herder heartbeats)."""
    heartbeat_age_s: float | None
    """Age of the newest heartbeat the flow's herder wrote (``heartbeats`` on the destination)."""
    replicated_heartbeat_age_s: float | None
    """Age of the newest heartbeat replicated from the origin (``<from>.heartbeats``): data path."""
    checkpoint_age_s: float | None
    from_required: bool = False
    """Failback must read the origin cluster; failover can fall back to checkpoints."""
    to_reachable: bool = True


@dataclass(frozen=True)
class Facts:
    direction: Direction
    from_cluster: str
    to_cluster: str
    now_ms: int
    preflight: Preflight
    groups: tuple[GroupFacts, ...]


# ---- outputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionPlan:
    from_topic: str
    to_topic: str
    partition: int
    from_offset: int | None
    to_offset: int | None
    current_to_offset: int | None
    action: PartitionAction
    exactness: Exactness | None
    unreplicated_records: int | None
    rpo_seconds: float | None
    metadata: str
    reason: str = ""


@dataclass(frozen=True)
class GroupPlan:
    group: str
    state_on_to: str
    action: GroupAction
    partitions: tuple[PartitionPlan, ...]
    reason: str = ""

    def commits(self) -> dict[tuple[str, int], tuple[int, str]]:
        """(to_topic, partition) -> (offset, metadata) to write; empty unless the group commits."""
        if self.action != "commit":
            return {}
        return {
            (row.to_topic, row.partition): (row.to_offset, row.metadata)
            for row in self.partitions
            if row.action == "commit" and row.to_offset is not None
        }


@dataclass(frozen=True)
class FailoverPlan:
    direction: Direction
    from_cluster: str
    to_cluster: str
    dry_run: bool
    preflight: Preflight
    refusals: tuple[str, ...]
    warnings: tuple[str, ...]
    groups: tuple[GroupPlan, ...]

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    @property
    def exit_code(self) -> int:
        if self.refused:
            return EXIT_REFUSED
        if any(group.action.startswith("skip") or group.action == "write-failed" for group in self.groups):
            return EXIT_PARTIAL
        return EXIT_OK


# ---- planning ----------------------------------------------------------------------------------

STALE_AFTER_S = 60.0
"""Heartbeats or checkpoints older than this are worth a warning: translation may be stale."""


def _unreplicated(facts: PartitionFacts) -> int | None:
    if facts.unreplicated_records is not None:
        return facts.unreplicated_records
    if facts.source_end_offset is None:
        return None
    next_to_replicate = 0 if facts.last_replicated_offset is None else facts.last_replicated_offset + 1
    # Not counted (too many to read): offsets, so transaction markers count too; an upper bound.
    return max(0, facts.source_end_offset - next_to_replicate)


def _rpo_seconds(facts: PartitionFacts, unreplicated: int | None, now_ms: int) -> float | None:
    if unreplicated == 0:
        return 0.0
    if facts.oldest_unreplicated_timestamp_ms is None:
        return None
    return max(0.0, (now_ms - facts.oldest_unreplicated_timestamp_ms) / 1000)


def plan_partition(facts: PartitionFacts, now_ms: int) -> PartitionPlan:
    unreplicated = _unreplicated(facts)
    resolution = facts.resolution
    to_offset: int | None = None
    exactness: Exactness | None = None
    reason = ""
    action: PartitionAction
    if isinstance(resolution, Unresolved):
        action, reason = "untranslatable", resolution.reason
    else:
        to_offset, exactness = resolution.offset, resolution.exactness
        # Never move a group backwards: a position at or past the target means the group already
        # moved (a previous run) or consumed further on the destination; both are done.
        done = facts.current_to_offset is not None and facts.current_to_offset >= resolution.offset
        action = "already-done" if done else "commit"
    return PartitionPlan(
        from_topic=facts.from_topic,
        to_topic=facts.to_topic,
        partition=facts.partition,
        from_offset=facts.from_offset,
        to_offset=to_offset,
        current_to_offset=facts.current_to_offset,
        action=action,
        exactness=exactness,
        unreplicated_records=unreplicated,
        rpo_seconds=_rpo_seconds(facts, unreplicated, now_ms),
        metadata=facts.metadata,
        reason=reason,
    )


def plan_group(facts: GroupFacts, now_ms: int) -> GroupPlan:
    rows = tuple(
        plan_partition(p, now_ms) for p in sorted(facts.partitions, key=lambda p: (p.to_topic, p.partition))
    )
    untranslatable = [row for row in rows if row.action == "untranslatable"]
    if untranslatable:
        # Moving only part of a group would leave it half here, half there; the operator decides.
        first = untranslatable[0]
        reason = f"{first.from_topic}-{first.partition}: {first.reason}"
        return GroupPlan(facts.group, facts.state_on_to, "skip-untranslatable", rows, reason)
    if all(row.action == "already-done" for row in rows):
        return GroupPlan(facts.group, facts.state_on_to, "already-done", rows)
    if facts.state_on_to not in IDLE_GROUP_STATES:
        return GroupPlan(
            facts.group,
            facts.state_on_to,
            "skip-active",
            rows,
            f"group is {facts.state_on_to} on the destination: stop its consumers there and run again",
        )
    return GroupPlan(facts.group, facts.state_on_to, "commit", rows)


def _warnings(preflight: Preflight) -> list[str]:
    warnings = []
    if not preflight.from_reachable:
        warnings.append("origin cluster does not answer: using the latest checkpoints on the destination")
    for label, age in (
        ("herder heartbeat", preflight.heartbeat_age_s),
        ("replicated heartbeat", preflight.replicated_heartbeat_age_s),
        ("checkpoint", preflight.checkpoint_age_s),
    ):
        if age is not None and age > STALE_AFTER_S:
            warnings.append(f"last {label} is {age:.0f}s old")
    return warnings


def make_plan(facts: Facts, *, dry_run: bool, force: bool, stops_flow: str | None = None) -> FailoverPlan:
    """``stops_flow``: the service flow a real run stops before it gathers facts (so a dry run
    that sees it replicating plans as if it were stopped, and says so)."""
    preflight = facts.preflight
    refusals = []
    warnings = _warnings(preflight)
    if not preflight.to_reachable:
        refusals.append(f"{facts.to_cluster} does not answer; nothing can be committed there")
    if preflight.from_required and not preflight.from_reachable:
        refusals.append(f"{facts.from_cluster} does not answer; {facts.direction} needs it")
    if preflight.flow_replicating:
        message = (
            f"the {facts.from_cluster}->{facts.to_cluster} flow is still replicating: stop `mirror run` "
            f"for it first (or pass --force, knowing more data may arrive and be read again)"
        )
        if dry_run and stops_flow is not None:
            warnings.append(
                f"a real run first stops flow {stops_flow!r} through the service and waits for it"
            )
        elif force:
            warnings.append("forced: " + message)
        else:
            refusals.append(message)
    groups = tuple(plan_group(group, facts.now_ms) for group in sorted(facts.groups, key=lambda g: g.group))
    if not groups and preflight.to_reachable:
        refusals.append("nothing to do: no selected group has offsets on a replicated topic")
    return FailoverPlan(
        facts.direction,
        facts.from_cluster,
        facts.to_cluster,
        dry_run,
        preflight,
        tuple(refusals),
        tuple(warnings),
        groups,
    )


def with_write_failures(plan: FailoverPlan, failures: Mapping[str, str]) -> FailoverPlan:
    """The plan as executed: groups whose commit the destination refused are marked."""
    groups = tuple(
        replace(group, action="write-failed", reason=failures[group.group])
        if group.group in failures
        else group
        for group in plan.groups
    )
    return replace(plan, groups=groups)


# ---- rendering ---------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    cells = [list(header), *([_cell(value) for value in row] for row in rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(cells[0]))]
    return [
        "  " + "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _age(age: float | None) -> str:
    return "none seen" if age is None else f"{age:.1f}s ago"


def render_text(plan: FailoverPlan) -> str:
    lines = []
    if plan.dry_run:
        lines.append("DRY RUN — nothing changed")
    title = f"{plan.direction} {plan.from_cluster} -> {plan.to_cluster}"
    lines.append(title)
    pre = plan.preflight
    # Failback does not wait for a flow to stop: the B->A flow may keep running once caught up.
    flow_state = "not observed" if plan.direction == "failback" else "idle"
    if pre.flow_replicating:
        flow_state = "STILL REPLICATING"
    lines.append(
        f"pre-flight: {plan.from_cluster} {'answers' if pre.from_reachable else 'DOES NOT ANSWER'}; "
        f"flow {flow_state}; "
        f"herder heartbeat {_age(pre.heartbeat_age_s)}; "
        f"replicated heartbeat {_age(pre.replicated_heartbeat_age_s)}; "
        f"checkpoint {_age(pre.checkpoint_age_s)}"
    )
    lines.extend(f"REFUSED: {reason}" for reason in plan.refusals)
    lines.extend(f"warning: {warning}" for warning in plan.warnings)
    verb = "would commit" if plan.dry_run else "committed"
    for group in plan.groups:
        action = verb if group.action == "commit" else group.action
        suffix = f" ({group.reason})" if group.reason else ""
        lines.append(f"group {group.group} [{group.state_on_to} on {plan.to_cluster}]: {action}{suffix}")
        lines.extend(
            _table(
                (
                    f"{plan.from_cluster} topic",
                    f"{plan.to_cluster} topic",
                    "part",
                    f"offset on {plan.from_cluster}",
                    f"offset on {plan.to_cluster}",
                    "current",
                    "unreplicated",
                    "rpo s",
                    "exactness",
                    "action",
                ),
                (
                    (
                        row.from_topic,
                        row.to_topic,
                        row.partition,
                        row.from_offset,
                        row.to_offset,
                        row.current_to_offset,
                        row.unreplicated_records,
                        row.rpo_seconds,
                        row.exactness,
                        row.action,
                    )
                    for row in group.partitions
                ),
            )
        )
    if plan.refused:
        lines.append(f"exit {plan.exit_code}: refused, nothing changed")
    else:
        lines.append(f"exit {plan.exit_code}: {'ok' if plan.exit_code == EXIT_OK else 'partial'}")
    return "\n".join(lines) + "\n"


def to_json(plan: FailoverPlan) -> str:
    body = {
        "direction": plan.direction,
        "from": plan.from_cluster,
        "to": plan.to_cluster,
        "dry_run": plan.dry_run,
        "exit_code": plan.exit_code,
        "preflight": {
            "from_reachable": plan.preflight.from_reachable,
            "flow_replicating": plan.preflight.flow_replicating,
            "heartbeat_age_s": plan.preflight.heartbeat_age_s,
            "replicated_heartbeat_age_s": plan.preflight.replicated_heartbeat_age_s,
            "checkpoint_age_s": plan.preflight.checkpoint_age_s,
        },
        "refusals": list(plan.refusals),
        "warnings": list(plan.warnings),
        "groups": [
            {
                "group": group.group,
                "state_on_to": group.state_on_to,
                "action": group.action,
                "reason": group.reason,
                "partitions": [
                    {
                        "from_topic": row.from_topic,
                        "to_topic": row.to_topic,
                        "partition": row.partition,
                        "offset_on_from": row.from_offset,
                        "offset_on_to": row.to_offset,
                        "current_offset_on_to": row.current_to_offset,
                        "unreplicated_records": row.unreplicated_records,
                        "rpo_seconds": row.rpo_seconds,
                        "exactness": row.exactness,
                        "action": row.action,
                        "reason": row.reason,
                    }
                    for row in group.partitions
                ],
            }
            for group in plan.groups
        ],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
