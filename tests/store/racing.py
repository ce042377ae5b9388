"""Run callables at the same instant, each on its own thread, as separate processes would race."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
RACE_TIMEOUT_S = 120.0


def race(attempts: Sequence[Callable[[], T]]) -> list[T]:
    """Results in the order of ``attempts``; the first error raised by one of them is raised here."""
    start = threading.Barrier(len(attempts))

    def at_start(attempt: Callable[[], T]) -> T:
        start.wait(timeout=RACE_TIMEOUT_S)
        return attempt()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [pool.submit(at_start, attempt) for attempt in attempts]
        return [future.result(timeout=RACE_TIMEOUT_S) for future in futures]
