"""What a run's view knows: each stage's status and wall time, and the running stage's current task (items
or optimizer steps done of a total, tokens generated, training loss). Both views (live, plain) read it; the
pipeline, the engine and the training callback write it through :class:`selfalign.progress.ProgressView`."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Task:
    """One unit of work inside a stage: ``generate 24`` (items) or ``train`` (optimizer steps)."""

    label: str
    total: int
    unit: str
    done: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    first_done: int = 0  # a resumed training task starts at its checkpoint's step

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def tokens_per_s(self) -> float | None:
        elapsed = self.elapsed()
        return self.tokens / elapsed if self.tokens and elapsed > 0 else None

    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before the first item is done."""
        done_here = self.done - self.first_done
        if done_here <= 0 or self.total <= 0:
            return None
        return max(0.0, self.elapsed() / done_here * (self.total - self.done))


@dataclass
class Row:
    name: str
    status: str = "pending"  # pending | running | done | cached | failed
    started: float | None = None
    wall: float | None = None
    tokens: int = 0
    loss: list[float] = field(default_factory=list)  # first and latest training loss

    def seconds(self) -> float | None:
        if self.wall is not None:
            return self.wall
        return None if self.started is None else time.monotonic() - self.started

    def loss_text(self) -> str:
        if not self.loss:
            return ""
        return f"loss {self.loss[0]:.4g}" + (f" → {self.loss[-1]:.4g}" if len(self.loss) > 1 else "")


class RunState:
    """The run as its views see it. Thread-safe: the live view renders from its own refresh thread."""

    def __init__(self, title: str, on_begin: Callable[[], None] = lambda: None) -> None:
        self.title = title
        self.rows: dict[str, Row] = {}
        self.task: Task | None = None
        self.running: str | None = None
        self.lock = threading.RLock()
        self._on_begin = on_begin

    # -- selfalign.progress.ProgressView ---------------------------------------------------------------
    def begin(self, stages: Sequence[str]) -> None:
        with self.lock:
            self.rows = {name: Row(name) for name in stages}
        self._on_begin()

    def stage_started(self, name: str) -> None:
        with self.lock:
            row = self.rows.setdefault(name, Row(name))
            row.status, row.started, self.running, self.task = "running", time.monotonic(), name, None

    def stage_finished(self, entry: Mapping[str, Any]) -> None:
        with self.lock:
            row = self.rows.setdefault(str(entry["name"]), Row(str(entry["name"])))
            row.status = str(entry.get("status", "done"))
            row.wall = float(entry.get("wall_seconds", 0.0))
            row.tokens = int(entry.get("tokens_generated", 0))
            if row.name == self.running:
                self.running, self.task = None, None

    def start_task(self, label: str, total: int, unit: str, done: int = 0) -> None:
        with self.lock:
            self.task = Task(label, total, unit, done=done, first_done=done)

    def advance(self, items: int, tokens: int = 0) -> None:
        with self.lock:
            if self.task is not None:
                self.task.done = min(self.task.total, self.task.done + items)
                self.task.tokens += tokens

    def train_log(self, step: int, logs: Mapping[str, Any]) -> None:
        loss = logs.get("loss")
        if not isinstance(loss, int | float) or not math.isfinite(loss) or self.running is None:
            return
        with self.lock:
            row = self.rows[self.running]
            row.loss = [row.loss[0], float(loss)] if row.loss else [float(loss)]

    # -- the end -----------------------------------------------------------------------------------------
    def failed(self, status: str = "failed") -> Row | None:
        """Mark the running stage ``failed`` (or ``interrupted``): the run stopped inside it; return it."""
        with self.lock:
            row = self.rows.get(self.running) if self.running else None
            if row is not None:
                row.status, row.wall = status, row.seconds()
            self.running, self.task = None, None
            return row

    def position(self, name: str) -> str:
        names = list(self.rows)
        return f"{names.index(name) + 1}/{len(names)}" if name in names else "?"
