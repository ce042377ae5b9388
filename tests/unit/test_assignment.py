"""Dealing connectors to live workers: balanced, sticky, and a dead worker's connectors move."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from mirror.service.assignment import balance, changes

WORKERS = ["w1", "w2", "w3", "w4"]


def test_new_connectors_are_spread_evenly() -> None:
    assignment = balance(dict.fromkeys(["a", "b", "c", "d", "e"]), ["w1", "w2"])
    assert sorted(Counter(assignment.values()).values()) == [2, 3]


def test_a_dead_workers_connectors_move_and_the_others_stay() -> None:
    current: dict[str, str | None] = {"a": "w1", "b": "w1", "c": "w2", "d": "w2", "e": "dead"}
    assignment = balance(current, ["w1", "w2", "w3"])
    assert assignment["e"] == "w3"
    assert changes(current, assignment) == {"e": "w3"}


def test_a_new_worker_takes_only_the_surplus() -> None:
    current: dict[str, str | None] = dict.fromkeys("abcd", "w1")
    assignment = balance(current, ["w1", "w2"])
    assert Counter(assignment.values()) == {"w1": 2, "w2": 2}
    assert len(changes(current, assignment)) == 2


def test_no_live_worker_unassigns_everything() -> None:
    assert balance({"a": "w1", "b": None}, []) == {"a": None, "b": None}


@given(
    st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.sampled_from([None, "gone", *WORKERS])),
    st.sets(st.sampled_from(WORKERS), min_size=1),
)
def test_balanced_and_sticky(current: dict[str, str | None], live: set[str]) -> None:
    assignment = balance(current, live)
    assert assignment.keys() == current.keys()
    assert all(worker in live for worker in assignment.values())
    loads = Counter(assignment.values())
    counts = [loads.get(worker, 0) for worker in live]
    assert max(counts) - min(counts) <= 1
    fair_share = len(current) // len(live)
    for worker in live:
        held = [name for name, holder in current.items() if holder == worker]
        stayed = [name for name in held if assignment[name] == worker]
        # A worker keeps what it holds, up to its share: nothing moves without need.
        assert len(stayed) >= min(len(held), fair_share)
    assert balance(assignment, live) == assignment
