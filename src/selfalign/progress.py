"""Progress events from deep inside a run (stages, generation batches, training steps) to the one view a
command installed (``selfalign run``'s live stage table, :mod:`selfalign.console`).

The engine, the training callback and the pipeline call :func:`current` and report to it when a view is
installed; with none (tests, library use, the single-stage commands) they behave as before. No rich, no
torch here: this module is imported by the engine before either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol


class ProgressView(Protocol):
    """What a run reports. Stage events come from the pipeline, task events from the work inside a stage."""

    def begin(self, stages: Sequence[str]) -> None:
        """The run dir is locked and these stages will run, in this order."""

    def stage_started(self, name: str) -> None: ...

    def stage_finished(self, entry: Mapping[str, Any]) -> None:
        """``entry`` is the stage's manifest entry (name, status done|cached, wall_seconds, counts ...)."""

    def start_task(self, label: str, total: int, unit: str, done: int = 0) -> None:
        """A unit of work inside the running stage: ``total`` items (or steps) of which ``done`` are done."""

    def advance(self, items: int, tokens: int = 0) -> None: ...

    def train_log(self, step: int, logs: Mapping[str, Any]) -> None:
        """A Trainer log (loss, learning rate, ...) at optimizer step ``step``."""


_view: ProgressView | None = None


def current() -> ProgressView | None:
    """The installed view, or None."""
    return _view


@contextlib.contextmanager
def installed(view: ProgressView) -> Iterator[ProgressView]:
    """Report to ``view`` for the duration (one at a time; the previous one comes back after)."""
    global _view
    previous, _view = _view, view
    try:
        yield view
    finally:
        _view = previous
