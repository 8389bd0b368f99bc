"""Shared pieces of the scripted engines that data-stage tests use to simulate a kill mid-run."""

from __future__ import annotations


class KillSwitch:
    """Counts ``generate`` calls; the call after ``fail_after`` successful ones raises KeyboardInterrupt."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after

    def tick(self) -> None:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
