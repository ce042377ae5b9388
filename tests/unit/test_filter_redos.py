"""A catastrophic-backtracking filter regex cannot freeze the process (security finding M3).

A backtracking engine holds the GIL for the whole match, so ``(a+)+$`` against a 249-character
topic name used to stop every thread: connectors, reconciler, heartbeats, scheduler. The scenario
runs in a child process so that, should the matcher freeze, the test fails on its timeout instead of
hanging the test run with it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SCENARIO = textwrap.dedent(
    """
    import threading, time
    from mirror.filters import GroupFilter, TopicFilter

    # Classic exponential and high-degree polynomial backtracking patterns.
    evil = "(a+)+$, (a|aa)+$, (a*)*b, (.*a){12}b"
    topic_filter = TopicFilter.from_config({"topics": evil, "topics.exclude": evil})
    group_filter = GroupFilter.from_config({"groups": evil, "groups.exclude": evil})
    # 249 characters is the longest topic name Kafka allows; each name almost matches, then fails.
    names = ["a" * length + "!" for length in range(200, 249)]
    assert max(map(len, names)) == 249

    ticks = 0
    stop = threading.Event()

    def ticker():
        global ticks
        while not stop.wait(0.01):
            ticks += 1

    thread = threading.Thread(target=ticker)
    thread.start()
    start = time.monotonic()
    matched = 0
    while time.monotonic() - start < 1.0:
        for name in names:
            topic_filter.accepts(name)
            group_filter.accepts(name)
            matched += 2
    elapsed = time.monotonic() - start
    stop.set()
    thread.join()
    print(matched, ticks, elapsed)
    """
)


def test_adversarial_names_cannot_stall_a_ticker_thread() -> None:
    try:
        result = subprocess.run(
            [sys.executable, "-c", _SCENARIO], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("matching adversarial topic names froze the process for 60 s") from None
    assert result.returncode == 0, result.stderr
    matched, ticks, elapsed = result.stdout.split()
    expected_ticks = float(elapsed) / 0.01
    assert int(matched) >= 2 * 49  # every adversarial name went through both filters at least once
    assert int(ticks) >= 0.5 * expected_ticks, (ticks, elapsed)
