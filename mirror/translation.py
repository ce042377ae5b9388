"""Exact consumer-offset translation from offset syncs. Pure: no I/O, no clocks.

MirrorMaker 2 translates conservatively: it keeps a few syncs and answers ``sync.d + 1`` for
any committed offset past a sync, so a failed-over group re-reads up to ``offset.lag.max``
records (or a whole sync gap). We translate exactly by making the syncs a complete description
of the downstream log rather than a sample of it.

The model
=========

A *sync* ``(u, d)`` says "the source record at upstream offset ``u`` was written at downstream
offset ``d``". Write ``f(x)`` for the upstream offset of the record at downstream offset ``x``.
:class:`SyncEmitter` emits a sync for the first record of a task's lifetime and for every record
that breaks the linear relation with the previous record it wrote (``u - u' != d - d'``), which
covers upstream gaps (compaction, transaction markers, retention, filtering), rewinds after a
restart (duplicates downstream), downstream gaps and truncation; it also emits MM2's own
triggers so that MM2's translator keeps working on our syncs. Therefore a record without a sync
is exactly one past its predecessor on both sides, and with syncs sorted by ``d``:
``f(x) = u_j + (x - d_j)`` for the last sync ``(u_j, d_j)`` with ``d_j <= x``, for every ``x`` up
to the latest sync. Nothing is known past the latest sync. :class:`OffsetMap` stores exactly
this: the breakpoints (segment starts) and the downstream offset of the latest sync.

The rule
========

A group that committed ``c`` on the source has consumed every record ``< c`` and none ``>= c``.
We want the downstream position ``p`` from which a consumer sees every record ``>= c`` that still
exists and, as far as possible, nothing else. Let ``L = (L.u, L.d)`` be the latest sync. Then::

    p(c) = min({L.d + 1} U {last(u) : c <= u <= L.u, u known, u not skipped after last(u)})

where ``last(u)`` is the downstream offset of the *last* copy of ``u`` and "``u`` skipped after
``y``" means some later pair of neighbouring records jumps over it (``f(x) < u < f(x + 1)`` with
``x >= y``): a replication pass went past ``u`` without copying it, which is only possible if
``u`` no longer existed upstream (compacted away) - a source consumer at ``c`` would not see it
either, so it need not be delivered.

Why this is exact. Replication proceeds in *runs* (task lifetimes); each copies the existing
upstream records in increasing order from its start, and a restarted run starts at or below one
past the last record copied (Connect resumes from a committed offset, never beyond what it
copied; if retention deleted that offset meanwhile, the records jumped over no longer exist).
Consider ``x*``, the last copy of any record ``< c`` (``p* = x* + 1`` is the simpler rule
"1 + max{x : f(x) < c}").

* Nothing ``< c`` is re-delivered: every needed ``u`` has ``last(u) > x*``. The run holding
  ``x*`` continues upward from ``f(x*) < c``; every later run starts at or below the progress
  of the one before, so after ``x*`` the values climb from below ``u`` to ``L.u >= u`` and must
  either hit ``u`` (a copy after ``x*``) or jump over it (then ``u`` is not needed). Hence
  ``p >= p*``; this is why taking the max over *all* copies of records ``< c`` matters after a
  restart-induced rewind: a position after only the *first* copy of a rewound record would
  replay the second copy.
* Nothing is skipped: every existing ``u`` in ``[c, L.u]`` has a copy at ``last(u) >= p``, and
  every record above ``L.u`` is still to be copied after ``L.d`` by the current run (or a later
  one, which resumes at or below its progress).
* Nothing avoidable is duplicated: ``p`` is the *largest* position satisfying the previous point
  (any larger position misses the copy at ``p``, or is beyond the data). So a copy of a record
  ``>= c`` that is followed by another copy of it (a rewind that restarted at or above ``c``) is
  stepped over, e.g. a restart that re-copied ``c..`` from scratch is read once, not twice.
  Duplicates that remain are unavoidable: a rewind to some ``r`` in ``(c, L.u]`` leaves records
  ``r..`` copied both before and after it while ``c..r-1`` may be copied only before it, and any
  position that delivers ``c..r-1`` also delivers the first copies of ``r..``.

The answer is exact with respect to the history known when asked; a *future* rewind of the
replication re-copies records and every downstream reader sees those copies, translated or not.

Tags. ``c > L.u + 1``: the group is ahead of the current replication position; the next records
written may be ones it consumed already (or offsets that turn out not to exist, such as a
transaction marker at the tail), so ``p = L.d + 1`` is returned as :class:`BeyondReplicated`:
safe, never past unreplicated data, possibly not exact. If no known record is ``<= c`` and the
map does not hold the partition's history from its first downstream record, an earlier,
forgotten copy might be the only one of some record ``>= c``: :class:`Unknown`, never a guess.
(With a known record ``<= c``, the runs after it cover everything that follows, so the forgotten
prefix cannot matter.)

Contract with the producer of syncs
===================================

Exactness depends on the syncs fed to one :class:`OffsetMap` being, per partition, a contiguous
suffix of the syncs emitted, in emission order: none dropped or coalesced in between. A missing
breakpoint makes the records after it look like continuations of the sync before it, which can
shift the answer either way, skipping records included. Java MM2 coalesces queued syncs (latest
per partition wins), so its syncs are not a safe input; neither is what a reader sees when it
falls behind compaction of the offset-syncs topic. The downstream partition must be written only
by replication (a foreign writer's records would be read as continuations). A truncation of the
downstream log is noticed at the first sync that contradicts what is known; if the rewrite is
identical up to the current end of the new run, the map describes records that are briefly
gone, which only matters if a group is committed past the new end before replication refills it.
The checkpoint task therefore persists each partition's map together with the offset-syncs
position it covers (:meth:`OffsetMapStore.changed`) and resumes reading after that position; a
jump in positions (records compacted away unread) makes the affected maps forget, not guess.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mirror.formats.mm2_records import OffsetSync

__all__ = [
    "DEFAULT_MAX_BREAKPOINTS",
    "DEFAULT_OFFSET_LAG_MAX",
    "BeyondReplicated",
    "Exact",
    "OffsetMap",
    "OffsetMapStore",
    "SnapshotError",
    "SyncEmitter",
    "SyncPair",
    "Translation",
    "Unknown",
    "mm2_translate",
]

DEFAULT_OFFSET_LAG_MAX = 100
DEFAULT_MAX_BREAKPOINTS = 4096

# (upstream offset, downstream offset), the payload of an OffsetSync.
SyncPair = tuple[int, int]


# --------------------------------------------------------------------------------------------
# Emission (source task)


class SyncEmitter:
    """Decides which records of one upstream partition need an offset sync, for one task lifetime.

    Use one emitter per assigned partition and start a new one when the task restarts (the first
    record of a lifetime is always synced, which is what tells a reader a new run began).

    Calls must follow downstream order (the order the target acknowledged the records) and report
    every replicated record of the partition exactly once, through one of:

    * :meth:`observe_run` for a batch's records of this partition when they are gap-free. The
      caller needs only the first and last record and the count: upstream offsets within a fetch
      are strictly increasing, so ``last_u - first_u == count - 1`` proves they are consecutive;
      the target assigns consecutive offsets to records it appends in order, which
      ``last_d - first_d == count - 1`` confirms. If either span is larger there is a gap
      somewhere inside the batch, and the caller must report each record with
      :meth:`observe_each` (``observe_run`` refuses such a run rather than guess where the gap is).
    * :meth:`observe_each` (or :meth:`observe`) for records with gaps, or any time.

    Every sync returned (and every sync from :meth:`flush`) must be produced, in the order
    returned; a dropped or coalesced sync silently breaks exact translation downstream.
    """

    def __init__(self, offset_lag_max: int = DEFAULT_OFFSET_LAG_MAX) -> None:
        if offset_lag_max < 0:
            raise ValueError(f"offset.lag.max must be >= 0, got {offset_lag_max}")
        self._lag_max = offset_lag_max
        self._previous: SyncPair | None = None
        # MM2's lastSyncDownstreamOffset: moved only by triggered syncs, not by flushes.
        self._last_sync_downstream = -1
        self._latest_emitted = False

    @property
    def offset_lag_max(self) -> int:
        return self._lag_max

    def latest(self) -> SyncPair | None:
        """The last record observed, whether or not it was synced."""
        return self._previous

    def _must_emit(self, upstream: int, downstream: int) -> bool:
        previous = self._previous
        if previous is None:
            return True
        previous_upstream, previous_downstream = previous
        return (
            downstream - (self._last_sync_downstream + 1) >= self._lag_max
            or upstream - previous_upstream != 1
            or downstream < previous_downstream
            # MM2 does not sync a downstream gap with contiguous upstream; we must, or the
            # records after it would be attributed to the wrong upstream offsets.
            or upstream - previous_upstream != downstream - previous_downstream
        )

    def observe(self, upstream: int, downstream: int) -> bool:
        """Record one replicated record; True if ``(upstream, downstream)`` must be synced now."""
        if upstream < 0 or downstream < 0:
            raise ValueError(f"offsets are never negative: ({upstream}, {downstream})")
        emit = self._must_emit(upstream, downstream)
        self._previous = (upstream, downstream)
        if emit:
            self._last_sync_downstream = downstream
        self._latest_emitted = emit
        return emit

    def observe_each(self, pairs: Iterable[SyncPair]) -> list[SyncPair]:
        """Record several records in downstream order; the syncs to produce, in order."""
        return [(u, d) for u, d in pairs if self.observe(u, d)]

    def observe_run(
        self, first_upstream: int, first_downstream: int, last_upstream: int, last_downstream: int, count: int
    ) -> list[SyncPair]:
        """Record ``count`` consecutive records (gap-free on both sides); the syncs to produce.

        Equivalent to calling :meth:`observe` for each record, at the cost of one call plus one
        per ``offset.lag.max`` records.
        """
        if count < 1:
            raise ValueError(f"a run has at least one record, got count={count}")
        if last_downstream - first_downstream != count - 1:
            raise ValueError(
                f"downstream offsets {first_downstream}..{last_downstream} are not {count} consecutive "
                "offsets; report each record with observe_each"
            )
        if last_upstream - first_upstream != count - 1:
            raise ValueError(
                f"upstream offsets {first_upstream}..{last_upstream} have a gap within {count} records; "
                "report each record with observe_each"
            )
        emitted: list[SyncPair] = []
        if self.observe(first_upstream, first_downstream):
            emitted.append((first_upstream, first_downstream))
        if count == 1:
            return emitted
        # The rest continue linearly, so only the offset.lag.max trigger can fire, every
        # lag_max + 1 records counted from the last triggered sync.
        step = self._lag_max + 1
        start = max(first_downstream + 1, self._last_sync_downstream + step)
        for downstream in range(start, last_downstream + 1, step):
            emitted.append((first_upstream + (downstream - first_downstream), downstream))
        self._previous = (last_upstream, last_downstream)
        if emitted and emitted[-1][1] > first_downstream:
            self._last_sync_downstream = emitted[-1][1]
        self._latest_emitted = bool(emitted) and emitted[-1][1] == last_downstream
        return emitted

    def flush(self) -> list[SyncPair]:
        """The latest record if it has not been synced yet (MM2's periodic sync on commit, KAFKA-15906).

        Call it on every offset commit: it bounds how far the translatable position trails the
        replicated data on a quiet partition. Returns at most one sync, and none twice.
        """
        if self._previous is None or self._latest_emitted:
            return []
        self._latest_emitted = True
        return [self._previous]


# --------------------------------------------------------------------------------------------
# Translation results


@dataclass(frozen=True)
class Exact:
    """Commit ``downstream_offset``: the group resumes exactly where it stopped upstream."""

    downstream_offset: int


@dataclass(frozen=True)
class BeyondReplicated:
    """The group is ahead of replication; ``safe_downstream_offset`` follows the last known record.

    Safe to commit (nothing unreplicated is skipped), but records the group consumed upstream
    and that are still to be replicated will be delivered again.
    """

    safe_downstream_offset: int
    last_replicated_upstream: int


@dataclass(frozen=True)
class Unknown:
    """No safe answer from the known history; do not commit anything for this partition."""

    reason: str


Translation = Exact | BeyondReplicated | Unknown


# --------------------------------------------------------------------------------------------
# Per-partition map


class _Covered:
    """A set of integers kept as disjoint, non-adjacent closed intervals sorted by start."""

    __slots__ = ("_highs", "_lows")

    def __init__(self) -> None:
        self._lows: list[int] = []
        self._highs: list[int] = []

    def add(self, low: int, high: int) -> None:
        first = bisect.bisect_left(self._highs, low - 1)
        after = bisect.bisect_right(self._lows, high + 1)
        if first < after:
            low = min(low, self._lows[first])
            high = max(high, self._highs[after - 1])
        self._lows[first:after] = [low]
        self._highs[first:after] = [high]

    def first_missing(self, low: int, high: int) -> int | None:
        """Smallest integer in ``[low, high]`` not in the set."""
        index = bisect.bisect_right(self._lows, low) - 1
        if index >= 0 and self._highs[index] >= low:
            low = self._highs[index] + 1
        return low if low <= high else None


_MAP_VERSION = 1
_FLAG_COMPLETE = 0x01
_MAP_HEADER = struct.Struct(">hbqi")  # version, flags, latest downstream, breakpoint count
_PAIR = struct.Struct(">qq")


class SnapshotError(ValueError):
    """Bytes that are not a snapshot this module wrote."""


class OffsetMap:
    """Everything known about one upstream partition's downstream log, from its offset syncs.

    Holds the breakpoints (downstream offsets where the linear relation to upstream changes,
    with their upstream offsets) and the downstream offset of the latest sync, so memory grows
    with the number of gaps and rewinds, not with records. At most ``max_breakpoints`` are kept;
    beyond that the oldest are forgotten and translation below the remaining history answers
    :class:`Unknown`.

    Mutation is only through :meth:`add`; :meth:`translate` and the accessors never change state.
    """

    __slots__ = ("_complete", "_downstreams", "_increasing_from", "_latest_downstream", "_max", "_upstreams")

    def __init__(self, max_breakpoints: int = DEFAULT_MAX_BREAKPOINTS) -> None:
        if max_breakpoints < 1:
            raise ValueError(f"max_breakpoints must be >= 1, got {max_breakpoints}")
        self._max = max_breakpoints
        self._upstreams: list[int] = []
        self._downstreams: list[int] = []
        self._latest_downstream = -1
        self._complete = False
        # Index of the newest breakpoint that is an upstream rewind (0 if none): from there on,
        # upstream offsets strictly increase with downstream ones, which allows a binary search.
        self._increasing_from = 0

    @property
    def history_complete_from_start(self) -> bool:
        """True if the earliest breakpoint is the first record ever written downstream.

        Inferred from a first sync at downstream offset 0 (the partition's first record, since
        only replication writes it); lost when old breakpoints are dropped.
        """
        return self._complete

    @property
    def max_breakpoints(self) -> int:
        return self._max

    def breakpoints(self) -> tuple[SyncPair, ...]:
        return tuple(zip(self._upstreams, self._downstreams, strict=True))

    def latest(self) -> SyncPair | None:
        """The latest sync, i.e. the last record known."""
        if not self._downstreams:
            return None
        latest = self._latest_downstream
        return (self._upstreams[-1] + (latest - self._downstreams[-1]), latest)

    def upstream_at(self, downstream_offset: int) -> int | None:
        """``f(downstream_offset)``, or None outside the known history."""
        if not self._downstreams or not self._downstreams[0] <= downstream_offset <= self._latest_downstream:
            return None
        index = bisect.bisect_right(self._downstreams, downstream_offset) - 1
        return self._upstreams[index] + (downstream_offset - self._downstreams[index])

    def add(self, upstream_offset: int, downstream_offset: int) -> bool:
        """Apply the next sync of this partition (see the module docstring for the contract);
        True if the map changed.

        A sync at or before the latest known downstream offset either repeats what is known (a
        replay, ignored) or contradicts it: the downstream log was truncated and rewritten from
        there, so everything known from that offset on is replaced. A sync older than the
        retained history is taken for a replay and ignored.
        """
        if upstream_offset < 0 or downstream_offset < 0:
            raise ValueError(f"offsets are never negative: ({upstream_offset}, {downstream_offset})")
        if not self._downstreams:
            self._upstreams.append(upstream_offset)
            self._downstreams.append(downstream_offset)
            self._latest_downstream = downstream_offset
            self._complete = downstream_offset == 0
            return True
        if downstream_offset <= self._latest_downstream:
            if downstream_offset < self._downstreams[0]:
                return False
            if self.upstream_at(downstream_offset) == upstream_offset:
                return False
            keep = bisect.bisect_left(self._downstreams, downstream_offset)
            del self._upstreams[keep:]
            del self._downstreams[keep:]
            self._latest_downstream = downstream_offset - 1
            self._increasing_from = self._find_increasing_from()
            if not self._downstreams:
                # Truncated back to our earliest record: same starting point, new content.
                self._upstreams.append(upstream_offset)
                self._downstreams.append(downstream_offset)
                self._latest_downstream = downstream_offset
                return True
        if upstream_offset - self._upstreams[-1] != downstream_offset - self._downstreams[-1]:
            previous_end = self._upstreams[-1] + (downstream_offset - 1 - self._downstreams[-1])
            self._upstreams.append(upstream_offset)
            self._downstreams.append(downstream_offset)
            if upstream_offset <= previous_end:
                self._increasing_from = len(self._upstreams) - 1
            if len(self._downstreams) > self._max:
                del self._upstreams[0]
                del self._downstreams[0]
                self._complete = False
                self._increasing_from = max(0, self._increasing_from - 1)
        self._latest_downstream = downstream_offset
        return True

    def forget_start(self) -> None:
        """Unknown history precedes the earliest breakpoint (it was lost, not absent)."""
        self._complete = False

    def _find_increasing_from(self) -> int:
        upstreams, downstreams = self._upstreams, self._downstreams
        for index in range(len(upstreams) - 1, 0, -1):
            previous_end = upstreams[index - 1] + (downstreams[index] - 1 - downstreams[index - 1])
            if upstreams[index] <= previous_end:
                return index
        return 0

    def translate(self, committed_offset: int) -> Translation:
        """Where a group that committed ``committed_offset`` upstream resumes downstream."""
        if committed_offset < 0:
            raise ValueError(f"a committed offset is never negative, got {committed_offset}")
        if not self._downstreams:
            return Unknown("no offset syncs for this partition yet")
        upstreams, downstreams = self._upstreams, self._downstreams
        latest_downstream = self._latest_downstream
        latest_upstream = upstreams[-1] + (latest_downstream - downstreams[-1])
        if committed_offset > latest_upstream + 1:
            return BeyondReplicated(latest_downstream + 1, latest_upstream)

        increasing_from = self._increasing_from
        if upstreams[increasing_from] < committed_offset:
            # The last record below the group lies where every upstream offset has exactly one
            # copy and nothing later is lower: the answer is simply the position after it.
            index = bisect.bisect_left(upstreams, committed_offset, lo=increasing_from) - 1
            segment_end = downstreams[index + 1] - 1 if index + 1 < len(downstreams) else latest_downstream
            last_below = downstreams[index] + min(
                segment_end - downstreams[index], committed_offset - 1 - upstreams[index]
            )
            return Exact(last_below + 1)

        # Walk the segments from the newest, tracking which upstream offsets already have a later
        # copy or were jumped over later; the earliest segment holding a needed offset's last copy
        # gives the answer. Stop at the segment holding the last copy of a record < committed.
        later = _Covered()
        answer = latest_downstream + 1
        segment_end = latest_downstream
        for index in range(len(downstreams) - 1, -1, -1):
            start_upstream, start_downstream = upstreams[index], downstreams[index]
            end_upstream = start_upstream + (segment_end - start_downstream)
            reached_floor = start_upstream < committed_offset
            low = max(start_upstream, committed_offset)
            high = min(end_upstream, latest_upstream)
            if low <= high:
                missing = later.first_missing(low, high)
                if missing is not None:
                    answer = start_downstream + (missing - start_upstream)
            if reached_floor:
                return Exact(answer)
            later.add(start_upstream, end_upstream)
            if index > 0:
                previous_end = upstreams[index - 1] + (start_downstream - 1 - downstreams[index - 1])
                if start_upstream > previous_end + 1:
                    later.add(previous_end + 1, start_upstream - 1)
            segment_end = start_downstream - 1

        lowest = min(upstreams)
        if committed_offset < lowest and not self._complete:
            return Unknown(
                f"committed offset {committed_offset} precedes the known replication history "
                f"(earliest known upstream offset {lowest}, nothing known before downstream "
                f"offset {downstreams[0]})"
            )
        return Exact(answer)

    def snapshot(self) -> bytes:
        """Versioned binary form: INT16 version=1, INT8 flags (bit 0: history complete from start),
        INT64 latest downstream offset, INT32 n, then n breakpoints of INT64 upstream + INT64
        downstream, oldest first; big-endian. An empty map has n=0 and latest -1.
        """
        flags = _FLAG_COMPLETE if self._complete else 0
        parts = [_MAP_HEADER.pack(_MAP_VERSION, flags, self._latest_downstream, len(self._downstreams))]
        parts.extend(_PAIR.pack(u, d) for u, d in zip(self._upstreams, self._downstreams, strict=True))
        return b"".join(parts)

    @classmethod
    def from_snapshot(cls, data: bytes, max_breakpoints: int = DEFAULT_MAX_BREAKPOINTS) -> OffsetMap:
        restored, end = cls._read(data, 0, max_breakpoints)
        if end != len(data):
            raise SnapshotError(f"{len(data) - end} unexpected bytes after the offset map")
        return restored

    @classmethod
    def _read(cls, data: bytes, offset: int, max_breakpoints: int) -> tuple[OffsetMap, int]:
        if offset + _MAP_HEADER.size > len(data):
            raise SnapshotError("offset map snapshot is truncated")
        version, flags, latest, count = _MAP_HEADER.unpack_from(data, offset)
        if version != _MAP_VERSION:
            raise SnapshotError(f"unsupported offset map snapshot version {version}")
        offset += _MAP_HEADER.size
        if count < 0 or offset + count * _PAIR.size > len(data):
            raise SnapshotError("offset map snapshot is truncated")
        pairs = [_PAIR.unpack_from(data, offset + i * _PAIR.size) for i in range(count)]
        offset += count * _PAIR.size
        downstreams = [d for _, d in pairs]
        if count == 0:
            if latest != -1 or flags:
                raise SnapshotError("empty offset map snapshot with a latest offset or flags")
        elif (
            any(u < 0 for u, _ in pairs)
            or downstreams[0] < 0
            or any(a >= b for a, b in itertools.pairwise(downstreams))
            or latest < downstreams[-1]
        ):
            raise SnapshotError("offset map snapshot breaks the breakpoint invariants")
        restored = cls(max_breakpoints)
        restored._upstreams = [u for u, _ in pairs]
        restored._downstreams = downstreams
        restored._latest_downstream = latest
        restored._complete = bool(flags & _FLAG_COMPLETE)
        if count > max_breakpoints:
            del restored._upstreams[: count - max_breakpoints]
            del restored._downstreams[: count - max_breakpoints]
            restored._complete = False
        restored._increasing_from = restored._find_increasing_from()
        return restored, offset


# --------------------------------------------------------------------------------------------
# Many partitions


class OffsetMapStore:
    """Offset maps for every upstream partition, fed in order from the offset-syncs topic.

    ``position`` is the offset-syncs offset of the last record applied (or skipped). A jump in
    positions means records between were removed (compaction of the offset-syncs topic while
    nobody read it): any of them may have been a breakpoint, so every map known before the jump
    forgets its history at its next new sync (translation below it then answers
    :class:`Unknown` instead of guessing). The maps and the position are persisted per
    partition (:meth:`changed`, :mod:`mirror.formats.offset_maps`) so a restarted reader resumes
    right after ``position`` instead of replaying a compacted, hence incomplete, history.
    """

    def __init__(self, max_breakpoints: int = DEFAULT_MAX_BREAKPOINTS) -> None:
        if max_breakpoints < 1:
            raise ValueError(f"max_breakpoints must be >= 1, got {max_breakpoints}")
        self._max = max_breakpoints
        self._maps: dict[tuple[str, int], OffsetMap] = {}
        self._position: int | None = None
        self._suspect: set[tuple[str, int]] = set()
        self._changed: set[tuple[str, int]] = set()

    @property
    def position(self) -> int | None:
        return self._position

    def partitions(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._maps)

    def partition_map(self, topic: str, partition: int) -> OffsetMap | None:
        return self._maps.get((topic, partition))

    def add(self, sync: OffsetSync, position: int | None = None) -> None:
        """Apply one sync read from the offset-syncs topic (at ``position``, if known)."""
        if position is not None:
            self._advance(position)
        key = (sync.topic, sync.partition)
        offset_map = self._maps.get(key)
        if offset_map is None:
            offset_map = self._maps[key] = OffsetMap(self._max)
        elif key in self._suspect:
            latest = offset_map.latest()
            if latest is None or sync.downstream_offset > latest[1]:
                # Breakpoints between what we knew and this sync may be lost: start again here.
                offset_map = self._maps[key] = OffsetMap(self._max)
                offset_map.add(sync.upstream_offset, sync.downstream_offset)
                offset_map.forget_start()
                self._suspect.discard(key)
                self._changed.add(key)
                return
        if offset_map.add(sync.upstream_offset, sync.downstream_offset):
            self._changed.add(key)

    def skip(self, position: int) -> None:
        """A record at ``position`` that is not a sync (undecodable): it only moves the position."""
        self._advance(position)

    def _advance(self, position: int) -> None:
        if self._position is not None:
            if position <= self._position:
                return
            if position > self._position + 1:
                self._suspect.update(self._maps)
        self._position = position

    def translate(self, topic: str, partition: int, committed_offset: int) -> Translation:
        offset_map = self._maps.get((topic, partition))
        if offset_map is None:
            if committed_offset < 0:
                raise ValueError(f"a committed offset is never negative, got {committed_offset}")
            return Unknown(f"no offset syncs for {topic}-{partition} yet")
        return offset_map.translate(committed_offset)

    def changed(self) -> list[tuple[str, int, OffsetMap]]:
        """Maps changed since the last :meth:`mark_saved`, sorted by partition."""
        return [
            (topic, partition, self._maps[(topic, partition)]) for topic, partition in sorted(self._changed)
        ]

    def mark_saved(self) -> None:
        self._changed.clear()

    def restore(self, topic: str, partition: int, offset_map: OffsetMap) -> None:
        """Put back a persisted map (before reading any sync)."""
        self._maps[(topic, partition)] = offset_map

    def restore_position(self, position: int) -> None:
        """Put back the position every restored map is complete up to."""
        self._position = position


# --------------------------------------------------------------------------------------------
# MirrorMaker 2's rule, for compatibility and comparison


def mm2_translate(syncs_latest_first: Sequence[SyncPair], committed_offset: int) -> int | None:
    """MM2 3.5+ ``translateDownstream`` over its sync history (slot 0 = latest sync).

    Takes the newest sync at or below ``committed_offset`` (else the oldest one); -1 if that
    sync is newer than the group ("too far in the past"); otherwise its downstream offset, plus
    one unless the group sits exactly on it, because MM2 cannot tell how many records follow a
    sync. None when there is no sync at all.
    """
    if not syncs_latest_first:
        return None
    chosen = next(
        (sync for sync in syncs_latest_first if sync[0] <= committed_offset), syncs_latest_first[-1]
    )
    upstream, downstream = chosen
    if upstream > committed_offset:
        return -1
    return downstream + (0 if upstream == committed_offset else 1)
