"""``selfalign run``'s console: a live stage table (plain lines when stdout is not a terminal), selfalign's
own warnings on the terminal, library chatter in ``RUN_DIR/run.log`` (``--verbose`` shows it again)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfalign.console.session import run_console

__all__ = ["run_console"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: every command imports selfalign.console.routing, only `run` needs the live view.
    if name == "run_console":
        from selfalign.console.session import run_console

        return run_console
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
