"""Which live worker runs which connector: balanced, and sticky so that nothing moves without need.

Every move stops a connector on one worker and starts it on another, so a connector stays where
it is while its worker lives and that worker holds no more than its share. A dead worker's
connectors, new connectors, and a crowded worker's surplus go to the least loaded workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def balance(current: Mapping[str, str | None], workers: Iterable[str]) -> dict[str, str | None]:
    """The assignment of every connector in ``current`` (connector -> its worker now, or None).

    Each live worker ends with ``n // w`` or ``n // w + 1`` connectors; with no live worker,
    every connector is unassigned.
    """
    live = sorted(set(workers))
    names = sorted(current)
    if not live:
        return dict.fromkeys(names)
    kept = {worker: [name for name in names if current[name] == worker] for worker in live}
    base, extra = divmod(len(names), len(live))
    # The larger shares go to the workers holding most already: fewest connectors move.
    by_holding = sorted(live, key=lambda worker: (-len(kept[worker]), worker))
    capacity = {worker: base + (1 if rank < extra else 0) for rank, worker in enumerate(by_holding)}
    assignment: dict[str, str | None] = {}
    moving = [name for name in names if current[name] not in kept]
    for worker in live:
        share = kept[worker][: capacity[worker]]
        moving.extend(kept[worker][capacity[worker] :])
        assignment.update(dict.fromkeys(share, worker))
        capacity[worker] -= len(share)
    open_slots = [worker for worker in live for _ in range(capacity[worker])]
    for name, worker in zip(sorted(moving), open_slots, strict=True):
        assignment[name] = worker
    return assignment


def changes(current: Mapping[str, str | None], wanted: Mapping[str, str | None]) -> dict[str, str | None]:
    """The entries of ``wanted`` that differ from ``current``."""
    return {name: worker for name, worker in wanted.items() if current.get(name) != worker}
