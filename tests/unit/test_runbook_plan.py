"""Failover/failback planning: forward-only commits, skips, refusals, exit codes, rendering."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mirror.formats.mm2_records import OffsetSync
from mirror.runbook.plan import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    Facts,
    GroupFacts,
    PartitionFacts,
    Preflight,
    Resolved,
    Unresolved,
    from_translation,
    make_plan,
    plan_partition,
    render_text,
    reverse_translate,
    to_json,
    with_write_failures,
)
from mirror.translation import BeyondReplicated, Exact, OffsetMap, OffsetMapStore, SyncEmitter, Unknown

NOW_MS = 1_000_000
IDLE = Preflight(True, False, 1.0, 1.0, 1.0)


TO_TEN = Resolved(10, "exact")


def row(
    resolution: Resolved | Unresolved = TO_TEN,
    current: int | None = None,
    *,
    partition: int = 0,
    source_end_offset: int | None = None,
    last_replicated_offset: int | None = None,
    oldest_unreplicated_timestamp_ms: int | None = None,
) -> PartitionFacts:
    return PartitionFacts(
        "orders",
        "A.orders",
        partition,
        12,
        resolution,
        current,
        "meta",
        source_end_offset,
        last_replicated_offset,
        oldest_unreplicated_timestamp_ms,
    )


def facts(*groups: GroupFacts, preflight: Preflight = IDLE) -> Facts:
    return Facts("failover", "A", "B", NOW_MS, preflight, groups)


def test_translations_become_plan_inputs() -> None:
    assert from_translation(Exact(5)) == Resolved(5, "exact")
    assert from_translation(BeyondReplicated(7, 9)) == Resolved(7, "beyond-replicated")
    assert from_translation(Unknown("why")) == Unresolved("why")


@given(target=st.integers(0, 1000), current=st.none() | st.integers(0, 1000))
def test_a_group_is_never_moved_backwards(target: int, current: int | None) -> None:
    planned = plan_partition(row(Resolved(target, "exact"), current), NOW_MS)
    expected = "commit" if current is None or current < target else "already-done"
    assert planned.action == expected and planned.to_offset == target


@given(
    targets=st.lists(st.tuples(st.integers(0, 100), st.none() | st.integers(0, 100)), min_size=1, max_size=5),
    state=st.sampled_from(["EMPTY", "DEAD", "STABLE"]),
)
def test_running_twice_changes_nothing_the_second_time(
    targets: list[tuple[int, int | None]], state: str
) -> None:
    group = GroupFacts(
        "g", state, tuple(row(Resolved(t, "exact"), c, partition=p) for p, (t, c) in enumerate(targets))
    )
    first = make_plan(facts(group), dry_run=False, force=False)
    written = first.groups[0].commits()
    after = GroupFacts(
        "g",
        "EMPTY",
        tuple(
            replace(p, current_to_offset=written[(p.to_topic, p.partition)][0])
            if (p.to_topic, p.partition) in written
            else p
            for p in group.partitions
        ),
    )
    second = make_plan(facts(after), dry_run=False, force=False)
    if first.groups[0].action in ("commit", "already-done"):
        assert second.groups[0].action == "already-done" and second.exit_code == EXIT_OK
        assert second.groups[0].commits() == {}


def test_commits_carry_the_source_metadata_and_only_forward_partitions() -> None:
    group = GroupFacts(
        "g", "EMPTY", (row(Resolved(10, "exact"), 3), row(Resolved(4, "exact"), 9, partition=1))
    )
    planned = make_plan(facts(group), dry_run=False, force=False)
    assert planned.groups[0].action == "commit"
    assert planned.groups[0].commits() == {("A.orders", 0): (10, "meta")}
    assert planned.exit_code == EXIT_OK


def test_active_and_untranslatable_groups_are_skipped_and_the_run_is_partial() -> None:
    active = GroupFacts("active", "STABLE", (row(),))
    lost = GroupFacts("lost", "EMPTY", (row(), row(Unresolved("no syncs"), partition=1)))
    fine = GroupFacts("fine", "EMPTY", (row(),))
    planned = make_plan(facts(active, lost, fine), dry_run=False, force=False)
    actions = {group.group: group.action for group in planned.groups}
    assert actions == {"active": "skip-active", "lost": "skip-untranslatable", "fine": "commit"}
    assert {group.group: group.commits() != {} for group in planned.groups} == {
        "active": False,
        "lost": False,
        "fine": True,
    }
    assert planned.exit_code == EXIT_PARTIAL


def test_an_active_group_that_already_moved_is_done() -> None:
    planned = make_plan(facts(GroupFacts("g", "STABLE", (row(current=50),))), dry_run=False, force=False)
    assert planned.groups[0].action == "already-done" and planned.exit_code == EXIT_OK


def test_a_replicating_flow_is_refused_unless_forced() -> None:
    busy = replace(IDLE, flow_replicating=True)
    group = GroupFacts("g", "EMPTY", (row(),))
    refused = make_plan(facts(group, preflight=busy), dry_run=False, force=False)
    assert refused.exit_code == EXIT_REFUSED and "mirror run" in refused.refusals[0]
    forced = make_plan(facts(group, preflight=busy), dry_run=False, force=True)
    assert forced.exit_code == EXIT_OK and any("forced" in warning for warning in forced.warnings)


def test_nothing_to_do_and_unreachable_clusters_are_refused() -> None:
    assert make_plan(facts(), dry_run=True, force=False).exit_code == EXIT_REFUSED
    gone = replace(IDLE, to_reachable=False)
    assert "does not answer" in make_plan(facts(preflight=gone), dry_run=False, force=False).refusals[0]
    failback_without_origin = replace(IDLE, from_reachable=False, from_required=True)
    planned = make_plan(
        facts(GroupFacts("g", "EMPTY", (row(),)), preflight=failback_without_origin),
        dry_run=False,
        force=False,
    )
    assert planned.exit_code == EXIT_REFUSED


def test_write_failures_make_the_run_partial() -> None:
    planned = make_plan(facts(GroupFacts("g", "EMPTY", (row(),))), dry_run=False, force=False)
    executed = with_write_failures(planned, {"g": "REBALANCE_IN_PROGRESS"})
    assert executed.groups[0].action == "write-failed" and executed.exit_code == EXIT_PARTIAL


def test_rpo_in_records_and_seconds() -> None:
    behind = plan_partition(
        row(source_end_offset=20, last_replicated_offset=14, oldest_unreplicated_timestamp_ms=NOW_MS - 2500),
        NOW_MS,
    )
    assert behind.unreplicated_records == 5 and behind.rpo_seconds == 2.5
    caught_up = plan_partition(row(source_end_offset=15, last_replicated_offset=14), NOW_MS)
    assert caught_up.unreplicated_records == 0 and caught_up.rpo_seconds == 0.0
    nothing_replicated = plan_partition(row(source_end_offset=3), NOW_MS)
    assert nothing_replicated.unreplicated_records == 3 and nothing_replicated.rpo_seconds is None
    # Counted on the origin: only a transaction marker follows the last replicated record.
    marker_only = plan_partition(
        replace(row(source_end_offset=16, last_replicated_offset=14), unreplicated_records=0), NOW_MS
    )
    assert marker_only.unreplicated_records == 0 and marker_only.rpo_seconds == 0.0
    origin_down = plan_partition(row(), NOW_MS)
    assert origin_down.unreplicated_records is None and origin_down.rpo_seconds is None


@st.composite
def replicated_log(draw: st.DrawFn) -> list[int]:
    """Upstream offsets of the records copied to downstream offsets 0, 1, 2, ... (gaps = markers)."""
    gaps = draw(st.lists(st.integers(0, 3), min_size=1, max_size=60))
    upstream, offsets = draw(st.integers(0, 5)), []
    for gap in gaps:
        upstream += gap
        offsets.append(upstream)
        upstream += 1
    return offsets


@given(log=replicated_log(), lag_max=st.integers(0, 10))
def test_failback_is_the_inverse_of_failover(log: list[int], lag_max: int) -> None:
    emitter, store = SyncEmitter(lag_max), OffsetMapStore()
    for downstream, upstream in enumerate(log):
        if emitter.observe(upstream, downstream):
            store.add(OffsetSync("t", 0, upstream, downstream))
    for upstream, downstream in emitter.flush():
        store.add(OffsetSync("t", 0, upstream, downstream))
    offset_map = store.partition_map("t", 0)
    for committed_downstream in range(len(log) + 1):
        home = reverse_translate(offset_map, committed_downstream)
        assert isinstance(home, Resolved) and home.exactness == "exact"
        expected = log[committed_downstream] if committed_downstream < len(log) else log[-1] + 1
        assert home.offset == expected
        # Failing over again from there lands on the same downstream position.
        assert store.translate("t", 0, home.offset) == Exact(committed_downstream)


def test_failback_without_syncs_or_history_is_unresolved() -> None:
    assert isinstance(reverse_translate(None, 5), Unresolved)
    offset_map = OffsetMap()
    offset_map.add(100, 50)
    assert isinstance(reverse_translate(offset_map, 10), Unresolved)
    assert reverse_translate(offset_map, 53) == Resolved(101, "beyond-replicated")


def test_text_and_json_renderings() -> None:
    group = GroupFacts("g", "EMPTY", (row(source_end_offset=20, last_replicated_offset=19),))
    dry = make_plan(facts(group), dry_run=True, force=False)
    text = render_text(dry)
    assert text.startswith("DRY RUN — nothing changed\n")
    assert "would commit" in text and "A.orders" in text and "exit 0" in text
    assert "DRY RUN" not in render_text(replace(dry, dry_run=False))
    body = json.loads(to_json(dry))
    assert body["dry_run"] is True and body["exit_code"] == EXIT_OK
    (partition,) = body["groups"][0]["partitions"]
    assert partition["offset_on_from"] == 12 and partition["offset_on_to"] == 10
    assert partition["unreplicated_records"] == 0 and partition["exactness"] == "exact"
