"""The live view on a terminal: one table that updates in place — every stage with its status and wall time,
the running one with a progress bar (items or steps done / total, tokens/s, ETA) and its training loss."""

from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from selfalign.console.state import RunState, Task

BAR = 20  # progress bar width
STYLES = {"pending": "dim", "done": "green", "cached": "cyan", "failed": "bold red", "interrupted": "yellow"}


def clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def task_text(task: Task) -> str:
    parts = [f"{task.done}/{task.total} {task.unit}"]
    rate = task.tokens_per_s()
    if rate is not None:
        parts.append(f"{rate:.0f} tok/s")
    eta = task.eta()
    parts.append(f"ETA {clock(eta)}" if eta is not None else "ETA …")
    return " · ".join(parts)


class LiveView(RunState):
    """:class:`RunState` plus :meth:`render`, which ``rich.live.Live`` calls a few times a second."""

    def __init__(self, title: str, on_begin: Callable[[], None] = lambda: None) -> None:
        super().__init__(title, on_begin)
        self._spinner = Spinner("dots", text="running", style="yellow")

    def render(self) -> RenderableType:
        """The stage table, and under it the running stage's task: its bar, count, rate, ETA."""
        with self.lock:
            table = Table(title=self.title, box=box.SIMPLE_HEAD, expand=False)
            table.add_column("stage", no_wrap=True, min_width=max((len(n) for n in self.rows), default=5))
            table.add_column("status", no_wrap=True, min_width=9)
            table.add_column("wall s", justify="right", no_wrap=True, min_width=6)
            table.add_column("")  # tokens generated, or the training loss (first → latest)
            for row in self.rows.values():
                seconds = row.seconds()
                status: RenderableType = self._spinner if row.status == "running" else Text(
                    row.status, style=STYLES.get(row.status, "")
                )
                detail = row.loss_text() or (f"{row.tokens} tokens" if row.tokens else "")
                table.add_row(row.name, status, "" if seconds is None else f"{seconds:.1f}", detail)
            if self.running is None and all(r.status == "pending" for r in self.rows.values()):
                return Group(table, Text("  preflight: loading the model (guards, sentinels)", style="dim"))
            if self.running is None or self.task is None:
                return table
            return Group(table, self._task_line(self.running, self.task))

    def _task_line(self, stage: str, task: Task) -> RenderableType:
        line = Table.grid(padding=(0, 1))
        line.add_row(
            Text(f"  {stage}: {task.label}", style="bold"),
            ProgressBar(total=max(task.total, 1), completed=task.done, width=BAR),
            task_text(task),
        )
        return line
