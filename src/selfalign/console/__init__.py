"""``selfalign run``'s console: a live stage table (plain lines when stdout is not a terminal), selfalign's
own warnings on the terminal, library chatter in ``RUN_DIR/run.log`` (``--verbose`` shows it again)."""

from selfalign.console.session import run_console

__all__ = ["run_console"]
