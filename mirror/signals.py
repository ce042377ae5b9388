"""Stopping long-running commands on SIGINT and SIGTERM, the same way everywhere; and asking
whether a process still lives."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType


def stop_on_signals(log: logging.Logger) -> threading.Event:
    """An event set (and logged) on SIGINT or SIGTERM; the caller stops cleanly when it is set.

    Call from the main thread, before starting threads that must not see the signal.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def process_alive(pid: int) -> bool:
    """Whether ``pid`` names a process (of any user) that has not been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
