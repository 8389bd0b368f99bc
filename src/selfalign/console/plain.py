"""The view when stdout is not a terminal (CI, a pipe, a file): one plain line per stage event, no escapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from selfalign.console.state import RunState


class PlainView(RunState):
    def __init__(self, title: str, out: TextIO, on_begin: Callable[[], None] = lambda: None) -> None:
        super().__init__(title, on_begin)
        self.out = out

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def begin(self, stages: Sequence[str]) -> None:
        super().begin(stages)
        self._say(f"{self.title}: {len(stages)} stages; loading the model")

    def stage_started(self, name: str) -> None:
        super().stage_started(name)
        self._say(f"[{self.position(name)}] {name}: running")

    def stage_finished(self, entry: Mapping[str, Any]) -> None:
        super().stage_finished(entry)
        row = self.rows[str(entry["name"])]
        line = f"[{self.position(row.name)}] {row.name}: {row.status}"
        if row.status == "done":
            line += f" in {row.wall or 0.0:.1f} s"
            extra = row.loss_text() or (f"{row.tokens} tokens" if row.tokens else "")
            line += f" ({extra})" if extra else ""
        self._say(line)

    def failed(self, status: str = "failed") -> Any:
        row = super().failed(status)
        if row is not None:
            self._say(f"[{self.position(row.name)}] {row.name}: {status} after {row.wall or 0.0:.1f} s")
        return row
