"""Progress of a backup, restore or verify: a live bar on a terminal, nothing otherwise.

The bar shows records (done/total when a total is known), bytes, the record rate and the time
left; it is drawn on stderr so that ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def _human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} TB"


class _BytesColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(_human_bytes(float(task.fields.get("bytes", 0))), style="progress.download")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("? rec/s", style="progress.data.speed")
        elapsed = task.elapsed or 0.0
        byte_rate = float(task.fields.get("bytes", 0)) / elapsed if elapsed > 0 else 0.0
        return Text(f"{speed:,.0f} rec/s {_human_bytes(byte_rate)}/s", style="progress.data.speed")


class ProgressDisplay:
    """Thread-safe counters, drawn as a bar when ``enabled`` (a terminal and no ``--json``)."""

    def __init__(self, label: str, *, total_records: int | None, enabled: bool) -> None:
        self.records = 0
        self.bytes = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("records"),
                _BytesColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total_records, bytes=0)

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def set_total(self, total_records: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total_records)

    def advance(self, records: int, size: int) -> None:
        with self._lock:
            self.records += records
            self.bytes += size
            done, total_bytes = self.records, self.bytes
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, bytes=total_bytes)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started
