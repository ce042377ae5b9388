"""Exact offset translation: emitter, per-partition map, store, snapshots, and MM2's own rule.

The property tests simulate replication end to end: a source partition with gaps (compaction,
transaction markers), replication runs that crash and restart from an earlier offset (duplicates
downstream), optional compaction between runs, syncs emitted by SyncEmitter exactly as a source
task would (gap-free batches through observe_run, others through observe_each, random flushes),
and a reader that sees any contiguous slice of the sync stream. A consumer positioned at the
translation and reading the downstream log to its end must then see every surviving record at
or after the committed offset and, within what was known, none before it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirror.formats.mm2_records import OffsetSync
from mirror.formats.offset_maps import (
    MapsCommitted,
    PartitionMap,
    decode,
    encode_commit,
    encode_partition_map,
)
from mirror.translation import (
    BeyondReplicated,
    Exact,
    OffsetMap,
    OffsetMapStore,
    SnapshotError,
    SyncEmitter,
    SyncPair,
    Translation,
    Unknown,
    mm2_translate,
)

# ---- helpers


def emit_all(records: list[SyncPair], offset_lag_max: int = 100, flush: bool = True) -> list[SyncPair]:
    emitter = SyncEmitter(offset_lag_max)
    syncs = emitter.observe_each(records)
    return syncs + (emitter.flush() if flush else [])


def replicate(upstream_offsets: list[int], first_downstream: int = 0) -> list[SyncPair]:
    return [(u, first_downstream + index) for index, u in enumerate(upstream_offsets)]


def map_of(syncs: list[SyncPair], max_breakpoints: int = 4096) -> OffsetMap:
    offset_map = OffsetMap(max_breakpoints)
    for upstream, downstream in syncs:
        offset_map.add(upstream, downstream)
    return offset_map


def mm2_history(syncs: list[SyncPair]) -> list[SyncPair]:
    """MM2's OffsetSyncStore with unbounded slots, latest first: an upstream rewind resets it."""
    history: list[SyncPair] = []
    for sync in syncs:
        if history and sync[0] < history[0][0]:
            history = [sync]
        else:
            history.insert(0, sync)
    return history


# ---- emitter


def test_emitter_syncs_first_record_and_gaps_only() -> None:
    # Compaction left 0,1,2,5,6,9.
    assert emit_all(replicate([0, 1, 2, 5, 6, 9])) == [(0, 0), (5, 3), (9, 5)]


def test_emitter_offset_lag_max_bounds_the_distance_between_syncs() -> None:
    emitter = SyncEmitter(offset_lag_max=2)
    assert emitter.observe_run(0, 0, 9, 9, 10) == [(0, 0), (3, 3), (6, 6), (9, 9)]
    assert emitter.flush() == []
    assert emitter.observe_run(10, 10, 11, 11, 2) == []
    assert emitter.latest() == (11, 11)
    assert emitter.flush() == [(11, 11)]
    assert emitter.flush() == []


def test_emitter_offset_lag_max_zero_syncs_every_record() -> None:
    emitter = SyncEmitter(offset_lag_max=0)
    assert emitter.observe_run(5, 0, 7, 2, 3) == [(5, 0), (6, 1), (7, 2)]


def test_emitter_mm2_triggers_and_downstream_gaps() -> None:
    emitter = SyncEmitter()
    assert emitter.observe(10, 0) is True  # first record of the lifetime
    assert emitter.observe(11, 1) is False
    assert emitter.observe(13, 2) is True  # upstream gap
    assert emitter.observe(14, 4) is True  # downstream gap (MM2 would not sync this)
    assert emitter.observe(15, 5) is False
    assert emitter.observe(16, 3) is True  # downstream truncation
    assert emitter.observe(12, 4) is True  # upstream rewind


def test_emitter_run_contract_is_enforced() -> None:
    emitter = SyncEmitter()
    with pytest.raises(ValueError, match="observe_each"):
        emitter.observe_run(0, 0, 5, 3, 4)  # upstream gap somewhere inside
    with pytest.raises(ValueError, match="observe_each"):
        emitter.observe_run(0, 0, 3, 5, 4)  # downstream not contiguous
    with pytest.raises(ValueError, match="at least one"):
        emitter.observe_run(0, 0, -1, -1, 0)
    with pytest.raises(ValueError, match="negative"):
        emitter.observe(-1, 0)
    with pytest.raises(ValueError, match="lag"):
        SyncEmitter(-1)
    assert emitter.latest() is None
    assert emitter.flush() == []


@st.composite
def record_streams(draw: st.DrawFn) -> tuple[int, list[list[SyncPair]]]:
    """Batches of (u, d) in downstream order, with upstream gaps and downstream gaps.

    Upstream offsets increase within a batch (one fetch of one partition); rewinds (a restarted
    or re-seeking consumer) happen between batches.
    """
    lag_max = draw(st.sampled_from([0, 1, 2, 5, 100]))
    upstream, downstream = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    batches: list[list[SyncPair]] = []
    for _ in range(draw(st.integers(1, 8))):
        batch: list[SyncPair] = []
        for _ in range(draw(st.integers(1, 12))):
            batch.append((upstream, downstream))
            upstream += draw(st.sampled_from([1, 1, 1, 1, 2, 4]))
            downstream += draw(st.sampled_from([1, 1, 1, 1, 1, 2]))
        batches.append(batch)
        upstream = max(0, upstream - draw(st.sampled_from([0, 0, 3])))
    return lag_max, batches


@given(record_streams())
def test_observe_run_is_observe_per_record(stream: tuple[int, list[list[SyncPair]]]) -> None:
    lag_max, batches = stream
    one_by_one, batched = SyncEmitter(lag_max), SyncEmitter(lag_max)
    for batch in batches:
        expected = [pair for pair in batch if one_by_one.observe(*pair)]
        (first_u, first_d), (last_u, last_d) = batch[0], batch[-1]
        if last_u - first_u == len(batch) - 1 and last_d - first_d == len(batch) - 1:
            got = batched.observe_run(first_u, first_d, last_u, last_d, len(batch))
        else:
            got = batched.observe_each(batch)
        assert got == expected
        assert batched.latest() == one_by_one.latest()
        assert batched.flush() == one_by_one.flush()


@given(record_streams())
def test_unsynced_records_continue_their_predecessor(stream: tuple[int, list[list[SyncPair]]]) -> None:
    lag_max, batches = stream
    emitter = SyncEmitter(lag_max)
    records = [pair for batch in batches for pair in batch]
    emitted = [emitter.observe(*pair) for pair in records]
    assert emitted[0]
    last_sync_d = records[0][1]
    for index in range(1, len(records)):
        (pu, pd), (u, d) = records[index - 1], records[index]
        if not emitted[index]:
            assert (u - pu, d - pd) == (1, 1)
            assert d - last_sync_d <= lag_max
        else:
            last_sync_d = d


# ---- worked unit cases


def test_compaction_gaps_translate_exactly() -> None:
    log = [0, 1, 2, 5, 6, 9]
    syncs = emit_all(replicate(log))
    offset_map = map_of(syncs)
    assert offset_map.history_complete_from_start
    expected = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 3, 6: 4, 7: 5, 8: 5, 9: 5, 10: 6}
    for committed, downstream in expected.items():
        assert offset_map.translate(committed) == Exact(downstream)
    assert offset_map.translate(11) == BeyondReplicated(6, 9)
    # MM2 re-delivers 1 and 2 for a group at 3, and 6 for a group at 7.
    history = mm2_history(syncs)
    assert mm2_translate(history, 3) == 1
    assert mm2_translate(history, 7) == 4


def test_transaction_markers_leave_no_lag() -> None:
    # Transactions of three records, each followed by its commit marker (3, 7, 11).
    log = [0, 1, 2, 4, 5, 6, 8, 9, 10]
    syncs = emit_all(replicate(log))
    assert syncs == [(0, 0), (4, 3), (8, 6), (10, 8)]
    offset_map = map_of(syncs)
    assert offset_map.translate(4) == Exact(3)  # after the first transaction and its marker
    assert offset_map.translate(6) == Exact(5)
    assert offset_map.translate(8) == Exact(6)
    assert mm2_translate(mm2_history(syncs), 6) == 4  # MM2 re-delivers upstream 5
    # Past the last marker: offset 11 may still be a record to replicate, so say so, but the
    # position is the end of the data either way.
    assert offset_map.translate(12) == BeyondReplicated(9, 10)
    assert offset_map.translate(11) == Exact(9)


def test_restart_rewind_duplicates_are_read_once() -> None:
    # Run 1 copies 0..7 and crashes before syncing its tail; run 2 resumes from 5.
    run1 = replicate(list(range(8)))
    run2 = replicate(list(range(5, 10)), first_downstream=8)
    syncs = emit_all(run1, flush=False) + emit_all(run2)
    assert syncs == [(0, 0), (5, 8), (9, 12)]
    offset_map = map_of(syncs)
    # Group at 5: the second run re-copied 5.. from scratch, so skip the whole first copy.
    assert offset_map.translate(5) == Exact(8)
    # Group at 6: after the last copy of 5.
    assert offset_map.translate(6) == Exact(9)
    # Group at 3: 3 and 4 exist only in the first copy; 5..7 are then unavoidably read twice.
    assert offset_map.translate(3) == Exact(3)
    assert offset_map.translate(10) == Exact(13)
    assert mm2_translate(mm2_history(syncs), 3) == 1


def test_rewind_in_progress_skips_what_the_current_run_will_copy_again() -> None:
    # Run 1 copied 0..9; run 2 restarted at 3 and has copied 3 and 4 so far.
    syncs = emit_all(replicate(list(range(10)))) + emit_all(replicate([3, 4], first_downstream=10))
    offset_map = map_of(syncs)
    # 5..9 at downstream 5..9 will be copied again after 11, so the group reads them only then.
    assert offset_map.translate(3) == Exact(10)
    assert offset_map.translate(5) == Exact(12)
    assert offset_map.translate(7) == BeyondReplicated(12, 4)


def test_records_compacted_away_between_runs_need_no_delivery() -> None:
    # Run 1 copied 10, 11, 12; compaction then removed 11; run 2 restarted at 10 and copied 10, 12.
    syncs = emit_all(replicate([10, 11, 12]), flush=False) + emit_all(replicate([10, 12], first_downstream=3))
    offset_map = map_of(syncs)
    # Run 2 went from 10 to 12: 11 no longer exists upstream, so its old copy need not be read.
    assert offset_map.translate(10) == Exact(3)
    assert offset_map.translate(11) == Exact(4)
    assert offset_map.translate(12) == Exact(4)


def test_restart_after_a_synced_tail_resets_mm2_but_not_us() -> None:
    run1 = replicate(list(range(8)))
    run2 = replicate(list(range(5, 10)), first_downstream=8)
    syncs = emit_all(run1) + emit_all(run2)
    assert syncs == [(0, 0), (7, 7), (5, 8), (9, 12)]
    offset_map = map_of(syncs)
    assert offset_map.breakpoints() == ((0, 0), (5, 8))
    assert offset_map.translate(3) == Exact(3)
    assert mm2_translate(mm2_history(syncs), 3) == -1


def test_group_ahead_of_replication() -> None:
    offset_map = map_of(emit_all(replicate(list(range(100, 110)))))
    assert offset_map.translate(110) == Exact(10)
    assert offset_map.translate(500) == BeyondReplicated(10, 109)


def test_group_at_offset_zero() -> None:
    assert map_of(emit_all(replicate([0, 1, 2]))).translate(0) == Exact(0)
    # Replication began at upstream 50 (older records had expired) on an empty downstream topic.
    assert map_of(emit_all(replicate([50, 51]))).translate(0) == Exact(0)
    # History known from downstream 7 only, but it starts at upstream 0: nothing can be earlier.
    late = map_of(emit_all(replicate([0, 1, 2], first_downstream=7)))
    assert not late.history_complete_from_start
    assert late.translate(0) == Exact(7)


def test_empty_partition_is_unknown() -> None:
    assert isinstance(OffsetMap().translate(0), Unknown)
    assert isinstance(OffsetMapStore().translate("t", 0, 0), Unknown)
    assert OffsetMap().latest() is None
    assert OffsetMap().upstream_at(0) is None


def test_history_before_the_known_syncs_is_unknown() -> None:
    # A fresh reader of a compacted offset-syncs topic sees only the latest sync and what follows.
    offset_map = map_of([(500, 480), (510, 490)])
    assert isinstance(offset_map.translate(100), Unknown)
    assert offset_map.translate(500) == Exact(480)
    assert offset_map.translate(505) == Exact(485)
    assert offset_map.translate(511) == Exact(491)


def test_bounded_memory_forgets_the_oldest_breakpoints() -> None:
    offset_map = map_of([(0, 0), (10, 1), (20, 2), (30, 3)], max_breakpoints=2)
    assert offset_map.breakpoints() == ((20, 2), (30, 3))
    assert not offset_map.history_complete_from_start
    assert isinstance(offset_map.translate(5), Unknown)
    assert isinstance(offset_map.translate(15), Unknown)
    assert offset_map.translate(20) == Exact(2)
    assert offset_map.translate(25) == Exact(3)


def test_downstream_truncation_replaces_the_lost_tail() -> None:
    offset_map = map_of([(0, 0), (9, 9)])
    assert offset_map.upstream_at(7) == 7
    offset_map.add(6, 5)  # the target lost offsets 5..9; a new run wrote upstream 6 at 5
    assert offset_map.breakpoints() == ((0, 0), (6, 5))
    assert offset_map.latest() == (6, 5)
    assert offset_map.upstream_at(7) is None
    assert offset_map.translate(5) == Exact(5)
    assert offset_map.translate(7) == Exact(6)
    offset_map.add(3, 0)  # truncated to nothing: same start, new content
    assert offset_map.breakpoints() == ((3, 0),)
    assert offset_map.history_complete_from_start


def test_replayed_and_older_syncs_are_ignored() -> None:
    syncs = [(0, 0), (5, 3), (9, 5), (12, 8)]
    offset_map = map_of(syncs)
    before = (offset_map.breakpoints(), offset_map.latest())
    for upstream, downstream in syncs[:3]:
        offset_map.add(upstream, downstream)
    assert (offset_map.breakpoints(), offset_map.latest()) == before
    bounded = map_of(syncs, max_breakpoints=2)
    assert bounded.breakpoints() == ((5, 3), (9, 5))  # (12, 8) continues (9, 5)
    bounded.add(0, 0)
    assert bounded.breakpoints() == ((5, 3), (9, 5))
    assert bounded.latest() == (12, 8)


def test_map_rejects_negative_offsets() -> None:
    with pytest.raises(ValueError, match="negative"):
        OffsetMap().add(-1, 0)
    with pytest.raises(ValueError, match="negative"):
        OffsetMap().translate(-1)
    with pytest.raises(ValueError, match="negative"):
        OffsetMapStore().translate("t", 0, -1)
    with pytest.raises(ValueError, match="max_breakpoints"):
        OffsetMap(0)
    with pytest.raises(ValueError, match="max_breakpoints"):
        OffsetMapStore(0)


# ---- store and snapshots


def test_store_keeps_partitions_apart_and_tracks_position() -> None:
    store = OffsetMapStore()
    store.add(OffsetSync("t", 0, 0, 0), position=10)
    store.add(OffsetSync("t", 1, 100, 0), position=11)
    store.add(OffsetSync("t", 0, 5, 3), position=12)
    store.add(OffsetSync("u", 0, 7, 7))
    assert store.partitions() == {("t", 0), ("t", 1), ("u", 0)}
    assert store.position == 12
    assert store.translate("t", 0, 4) == Exact(3)
    assert store.translate("t", 1, 100) == Exact(0)
    assert isinstance(store.translate("t", 2, 0), Unknown)
    offset_map = store.partition_map("t", 0)
    assert offset_map is not None
    assert offset_map.breakpoints() == ((0, 0), (5, 3))


def test_map_snapshot_layout_and_round_trip() -> None:
    single = OffsetMap()
    single.add(0, 0)
    assert single.snapshot() == bytes.fromhex(
        "0001 01 0000000000000000 00000001 0000000000000000 0000000000000000"
    )
    offset_map = OffsetMap()
    for sync in [(0, 0), (5, 3), (9, 5)]:
        offset_map.add(*sync)
    restored = OffsetMap.from_snapshot(offset_map.snapshot())
    assert restored.snapshot() == offset_map.snapshot()
    assert restored.translate(4) == Exact(3)
    assert OffsetMap.from_snapshot(OffsetMap().snapshot()).latest() is None


def test_restore_trims_to_the_configured_bound() -> None:
    offset_map = OffsetMap()
    for sync in [(0, 0), (10, 1), (20, 2)]:
        offset_map.add(*sync)
    small = OffsetMap.from_snapshot(offset_map.snapshot(), max_breakpoints=1)
    assert small.breakpoints() == ((20, 2),)
    assert not small.history_complete_from_start


def test_bad_map_snapshots_are_rejected() -> None:
    offset_map = OffsetMap()
    offset_map.add(0, 0)
    offset_map.add(5, 3)
    good = offset_map.snapshot()
    body = bytearray(good)
    # Breakpoints out of downstream order.
    body[15 + 8 : 15 + 16], body[15 + 24 : 15 + 32] = body[15 + 24 : 15 + 32], body[15 + 8 : 15 + 16]
    for data in [b"", good[:-1], good + b"\x00", b"\x00\x02" + good[2:], bytes(body)]:
        with pytest.raises(SnapshotError):
            OffsetMap.from_snapshot(data)


def test_store_reports_changed_maps_until_saved() -> None:
    store = OffsetMapStore()
    store.add(OffsetSync("t", 0, 0, 0), position=0)
    store.add(OffsetSync("t", 1, 0, 0), position=1)
    assert [(topic, partition) for topic, partition, _ in store.changed()] == [("t", 0), ("t", 1)]
    store.mark_saved()
    assert store.changed() == []
    store.add(OffsetSync("t", 0, 0, 0), position=2)  # a replay changes nothing
    assert store.changed() == []
    store.add(OffsetSync("t", 1, 7, 1), position=3)
    assert [(topic, partition) for topic, partition, _ in store.changed()] == [("t", 1)]


def test_a_position_jump_makes_maps_forget_rather_than_guess() -> None:
    store = OffsetMapStore()
    for position, sync in enumerate([(0, 0), (10, 5), (20, 10)]):
        store.add(OffsetSync("t", 0, *sync), position=position)
    store.add(OffsetSync("u", 0, 0, 0), position=3)
    assert store.translate("t", 0, 12) == Exact(7)
    # Records 4..9 were compacted away unread: one of them may have been a breakpoint of t-0.
    store.add(OffsetSync("t", 0, 20, 10), position=10)  # a replay of a known sync: still trusted
    assert store.translate("t", 0, 12) == Exact(7)
    store.add(OffsetSync("t", 0, 40, 20), position=11)
    assert isinstance(store.translate("t", 0, 12), Unknown)
    assert store.translate("t", 0, 41) == Exact(21)
    assert store.changed()[0][:2] == ("t", 0)
    # u-0 saw no new sync since the jump, so what it knew stays.
    assert store.translate("u", 0, 0) == Exact(0)
    store.skip(12)
    assert store.position == 12


# ---- MM2's rule


def test_mm2_translate_plus_zero_plus_one_rule() -> None:
    syncs = [(100, 95)]
    assert mm2_translate([], 5) is None
    assert mm2_translate(syncs, 100) == 95
    assert mm2_translate(syncs, 150) == 96
    assert mm2_translate(syncs, 99) == -1
    assert mm2_translate([(100, 95), (50, 40), (10, 5)], 60) == 41
    assert mm2_translate([(100, 95), (50, 40), (10, 5)], 3) == -1


# ---- simulated replication histories


@dataclass(frozen=True)
class Scenario:
    first_start: int  # upstream offset the first replication run started from
    source: tuple[int, ...]  # the source partition's records as the last run saw them
    log: tuple[int, ...]  # downstream log: upstream offset of the record at each downstream offset
    syncs: tuple[SyncPair, ...]  # in emission order
    source_fixed: bool  # no compaction between runs


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    source = [draw(st.integers(0, 3))]
    for step in draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 3]), min_size=4, max_size=30)):
        source.append(source[-1] + step)
    compacting = draw(st.booleans())
    lag_max = draw(st.sampled_from([0, 1, 3, 100]))
    runs = draw(st.integers(1, 5))
    view = list(source)
    first_start = draw(st.sampled_from(view))
    log: list[int] = []
    syncs: list[SyncPair] = []
    progress: int | None = None
    for run in range(runs):
        final = run == runs - 1
        if compacting and run > 0 and len(view) > 1:
            # Compaction never removes a partition's last record.
            keep = [*draw(st.lists(st.booleans(), min_size=len(view) - 1, max_size=len(view) - 1)), True]
            view = [u for u, kept in zip(view, keep, strict=True) if kept]
        # A restarted task resumes right after its committed progress: records copied after the
        # last commit are copied again (at-least-once duplicates). An operator may also rewind
        # the committed progress itself (an offsets reset), which moves every later restart too.
        if progress is not None and draw(st.booleans()):
            progress = draw(st.integers(first_start - 1, progress))
        begin = first_start if progress is None else progress + 1
        pending = [u for u in view if u >= begin]
        copied = pending if final else pending[: draw(st.integers(0, len(pending)))]
        emitter = SyncEmitter(lag_max)
        index = 0
        while index < len(copied):
            batch = copied[index : index + draw(st.integers(1, 5))]
            first_d = len(log)
            log.extend(batch)
            if batch[-1] - batch[0] == len(batch) - 1:
                syncs += emitter.observe_run(batch[0], first_d, batch[-1], len(log) - 1, len(batch))
            else:
                syncs += emitter.observe_each((u, first_d + k) for k, u in enumerate(batch))
            if draw(st.booleans()):
                # A commit: the runtime makes the syncs (tail included) durable, then records progress.
                syncs += emitter.flush()
                progress = batch[-1]
            index += len(batch)
        if final or draw(st.booleans()):  # a clean stop commits, a crash loses what it had not committed
            syncs += emitter.flush()
            if copied:
                progress = copied[-1]
    return Scenario(first_start, tuple(view), tuple(log), tuple(syncs), not compacting)


def reference(log: tuple[int, ...], first: int, last: int, complete: bool, committed: int) -> Translation:
    """The rule of the module docstring, evaluated record by record on the explicit log."""
    latest_upstream = log[last]
    if committed > latest_upstream + 1:
        return BeyondReplicated(last + 1, latest_upstream)
    below = [x for x in range(first, last + 1) if log[x] < committed]
    if not below and not complete and committed < min(log[first : last + 1]):
        return Unknown("before history")
    start = below[-1] + 1 if below else first
    copied_or_skipped_later: set[int] = set()
    answer = last + 1
    for x in range(last, start - 1, -1):
        value = log[x]
        if committed <= value <= latest_upstream and value not in copied_or_skipped_later:
            answer = x
        copied_or_skipped_later.add(value)
        if x > first and log[x - 1] < value:
            copied_or_skipped_later.update(range(log[x - 1] + 1, value))
    return Exact(answer)


def same(got: Translation, want: Translation) -> bool:
    if isinstance(want, Unknown):
        return isinstance(got, Unknown)
    return got == want


def check_slice(scenario: Scenario, begin: int, end: int) -> None:
    syncs = list(scenario.syncs[begin:end])
    offset_map = map_of(syncs)
    first, last = syncs[0][1], syncs[-1][1]
    complete = first == 0
    assert offset_map.history_complete_from_start == complete
    assert offset_map.latest() == (scenario.log[last], last)
    # The syncs reconstruct every record between the first and the latest sync.
    assert [offset_map.upstream_at(x) for x in range(first, last + 1)] == list(scenario.log[first : last + 1])
    mm2 = mm2_history(syncs)
    bounded = map_of(syncs, max_breakpoints=2)
    for committed in range(max(scenario.source) + 3):
        got = offset_map.translate(committed)
        assert same(got, reference(scenario.log, first, last, complete, committed)), committed
        bounded_got = bounded.translate(committed)
        assert isinstance(bounded_got, Unknown) or bounded_got == got
        mm2_answer = mm2_translate(mm2, committed)
        if isinstance(got, Unknown):
            assert mm2_answer in {None, -1}
            continue
        position = got.downstream_offset if isinstance(got, Exact) else got.safe_downstream_offset
        assert position <= last + 1
        # Never worse than MM2: at or after its answer, i.e. fewer re-deliveries.
        if mm2_answer is not None and mm2_answer != -1:
            assert position >= mm2_answer
        # Never skips: every surviving record >= committed is still ahead of the consumer.
        wanted = {u for u in scenario.source if u >= max(committed, scenario.first_start)}
        assert wanted <= set(scenario.log[position:])
        if isinstance(got, Exact):
            # Nothing the group already consumed is delivered again, as far as history is known.
            assert all(u >= committed for u in scenario.log[position : last + 1])


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_translation_on_simulated_histories(scenario: Scenario, data: st.DataObject) -> None:
    count = len(scenario.syncs)
    check_slice(scenario, 0, count)
    begin = data.draw(st.integers(0, count - 1))
    check_slice(scenario, begin, data.draw(st.integers(begin + 1, count)))


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_translation_is_the_latest_safe_position(scenario: Scenario) -> None:
    offset_map = map_of(list(scenario.syncs))
    last = len(scenario.log) - 1
    assert offset_map.latest() == (scenario.log[-1], last)
    for committed in range(max(scenario.source) + 3):
        got = offset_map.translate(committed)
        assert not isinstance(got, Unknown)
        if not isinstance(got, Exact) or got.downstream_offset > last:
            continue
        position = got.downstream_offset
        value = scenario.log[position]
        # The record at the answer is one the group still needs and this is its last copy, so
        # any later position would lose it. Duplicates after it are therefore unavoidable.
        assert value >= committed
        assert value not in scenario.log[position + 1 :]
        if scenario.source_fixed:
            assert value in scenario.source
        seen = Counter(scenario.log[position:])
        assert all(u >= committed for u in seen)
        wanted = [u for u in scenario.source if u >= max(committed, scenario.first_start)]
        assert all(seen[u] >= 1 for u in wanted)
        if all(copies == 1 for copies in seen.values()):
            # No duplicates after the answer in this history: exactly once.
            assert all(seen[u] == 1 for u in wanted)


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.data())
def test_downstream_truncation_then_rewrite(scenario: Scenario, data: st.DataObject) -> None:
    log = list(scenario.log)
    if len(log) < 2:
        return
    # The target loses everything from `cut` on; a new run resumes from what survived.
    cut = data.draw(st.integers(1, len(log) - 1))
    begin = data.draw(st.integers(0, log[cut - 1] + 1))
    rewritten = [u for u in scenario.source if u >= begin]
    if not rewritten or rewritten[0] == log[cut]:
        return  # an identical rewrite is indistinguishable from a replay
    new_log = log[:cut] + rewritten
    new_syncs = emit_all(replicate(rewritten, first_downstream=cut))
    offset_map = map_of([*scenario.syncs, *new_syncs])
    last = len(new_log) - 1
    assert [offset_map.upstream_at(x) for x in range(last + 1)] == new_log
    assert offset_map.upstream_at(last + 1) is None
    for committed in range(max(scenario.source) + 3):
        got = offset_map.translate(committed)
        assert same(got, reference(tuple(new_log), 0, last, True, committed)), committed


def _persist(store: OffsetMapStore, log: dict[bytes, bytes], commit: bool) -> None:
    position = store.position
    assert position is not None
    for topic, partition, offset_map in store.changed():
        key, value = encode_partition_map(PartitionMap(topic, partition, position, offset_map.snapshot()))
        log[key] = value
    store.mark_saved()
    if commit:
        key, value = encode_commit(MapsCommitted(position))
        log[key] = value


def _reload(log: dict[bytes, bytes], max_breakpoints: int) -> OffsetMapStore:
    store = OffsetMapStore(max_breakpoints)
    for key, value in log.items():
        record = decode(key, value)
        if isinstance(record, MapsCommitted):
            store.restore_position(record.syncs_position)
        elif isinstance(record, PartitionMap):
            store.restore(
                record.topic, record.partition, OffsetMap.from_snapshot(record.snapshot, max_breakpoints)
            )
    return store


@settings(max_examples=150, deadline=None)
@given(scenarios(), scenarios(), st.integers(1, 4), st.data())
def test_persisted_maps_resume_exactly(
    first: Scenario, second: Scenario, max_breakpoints: int, data: st.DataObject
) -> None:
    """Maps saved in rounds (the last one possibly cut short before its commit), reloaded and fed
    the syncs after the committed position, translate exactly as if nothing had stopped."""
    syncs = [("a", sync) for sync in first.syncs] + [("b", sync) for sync in second.syncs]
    order = data.draw(st.permutations(range(len(syncs))))
    # Keep each partition's syncs in emission order while interleaving the two partitions.
    per_topic = {"a": iter(first.syncs), "b": iter(second.syncs)}
    feed = [(syncs[index][0], next(per_topic[syncs[index][0]])) for index in order]
    stop = data.draw(st.integers(1, len(feed)))
    rounds = sorted(data.draw(st.sets(st.integers(1, stop), max_size=4)) | {stop})
    crashed_last_round = data.draw(st.booleans())

    whole = OffsetMapStore(max_breakpoints)
    saved = OffsetMapStore(max_breakpoints)
    log: dict[bytes, bytes] = {}
    for position, (topic, (upstream, downstream)) in enumerate(feed):
        whole.add(OffsetSync(topic, 0, upstream, downstream), position=position)
        if position < stop:
            saved.add(OffsetSync(topic, 0, upstream, downstream), position=position)
        if position + 1 in rounds:
            last = position + 1 == rounds[-1]
            _persist(saved, log, commit=not (last and crashed_last_round))
    resumed = _reload(log, max_breakpoints)
    start = 0 if resumed.position is None else resumed.position + 1
    for position in range(start, len(feed)):
        topic, (upstream, downstream) = feed[position]
        resumed.add(OffsetSync(topic, 0, upstream, downstream), position=position)
    for topic, scenario in (("a", first), ("b", second)):
        for committed in range(max(scenario.source) + 3):
            assert same(resumed.translate(topic, 0, committed), whole.translate(topic, 0, committed))
