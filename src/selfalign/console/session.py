"""One console per ``selfalign run``: the view (live table on a terminal, plain lines otherwise, nothing with
``--quiet``), selfalign's warnings on the terminal, and library chatter in ``RUN_DIR/run.log``.

Everything is put back on exit, so the caller's one-line error (and a bug's traceback) reach the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler

from selfalign import progress
from selfalign.console import routing
from selfalign.console.live import LiveView
from selfalign.console.plain import PlainView
from selfalign.console.state import RunState


class _Plain(logging.Formatter):
    """``warning: gate truncation ...``; a library's record (``--verbose``) names its logger."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ours = record.name == "selfalign" or record.name.startswith("selfalign.")
        return f"{record.levelname.lower()}: {text}" if ours else f"[{record.name}] {text}"


def _ours(record: logging.LogRecord) -> bool:
    name = record.name
    return (name == "selfalign" or name.startswith("selfalign.")) and not name.startswith(routing.LIBRARY)


def _not_echoed(record: logging.LogRecord) -> bool:
    return not record.name.startswith(routing.STREAMS)  # with --verbose the stand-ins echo it as written


def _terminal_handler(term: Console, err: TextIO, live: bool, verbose: bool) -> logging.Handler:
    handler: logging.Handler
    if live:
        handler = RichHandler(console=term, show_path=False)
    else:
        handler = logging.StreamHandler(err)
        handler.setFormatter(_Plain("%(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.addFilter(_not_echoed if verbose else _ours)
    return handler


@contextlib.contextmanager
def run_console(run_dir: Path, *, quiet: bool = False, verbose: bool = False) -> Iterator[RunState]:
    """Install the run's view and output routing for the duration of a run (see the module docstring)."""
    out, err = sys.stdout, sys.stderr
    runlog = routing.RunLog(run_dir / "run.log")
    term = Console(file=out)
    live = not quiet and term.is_terminal and not term.is_dumb_terminal
    title, opened = f"selfalign run → {run_dir}", lambda: runlog.open(routing.header())
    view: RunState
    if quiet:
        view = RunState(title, opened)
    elif live:
        view = LiveView(title, opened)
    else:
        view = PlainView(title, out, opened)
    display = (
        Live(console=term, get_renderable=view.render, transient=True, refresh_per_second=4,
             redirect_stdout=verbose, redirect_stderr=verbose)
        if isinstance(view, LiveView) else None
    )  # fmt: skip
    terminal = _terminal_handler(term, err, live, verbose)
    root, library = logging.getLogger(), logging.getLogger(routing.LIBRARY)
    saved_root = (root.level, [h for h in root.handlers if type(h) is logging.StreamHandler])
    saved_library, saved_show = library.level, warnings.showwarning
    for h in saved_root[1]:  # a plain stderr handler on root would print every library record
        root.removeHandler(h)
    root.setLevel(logging.INFO)
    library.setLevel(logging.DEBUG)  # engine.quiet() logs what it hid at DEBUG
    root.addHandler(runlog)
    root.addHandler(terminal)
    detached = routing.detach_library_handlers()
    warnings.showwarning = routing.show_warning
    if display is not None:
        display.start()
    # after Live: with --verbose it has wrapped stdout/stderr to print above the table; we tee into that
    stand_ins = (routing.StreamToLog("stdout", sys.stdout if verbose else None),
                 routing.StreamToLog("stderr", sys.stderr if verbose else None))  # fmt: skip
    real_streams = (sys.stdout, sys.stderr)
    sys.stdout, sys.stderr = cast(TextIO, stand_ins[0]), cast(TextIO, stand_ins[1])
    try:
        with progress.installed(view):
            yield view
    except BaseException as e:
        view.failed("interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
        if display is not None:
            display.transient = False  # keep the table: it shows where the run stopped
        record = logging.LogRecord("selfalign", logging.ERROR, __file__, 0, "run stopped: %s",
                                   (f"{type(e).__name__}: {e}",), (type(e), e, e.__traceback__))  # fmt: skip
        runlog.handle(record)
        raise
    finally:
        for stand_in in stand_ins:
            stand_in.drain()
        sys.stdout, sys.stderr = real_streams
        for stand_in, real in zip(stand_ins, (out, err), strict=True):
            routing.repoint(stand_in, real)
        if display is not None:
            display.stop()
        warnings.showwarning = saved_show
        routing.reattach(detached)
        root.removeHandler(terminal)
        root.removeHandler(runlog)
        root.setLevel(saved_root[0])
        for h in saved_root[1]:
            root.addHandler(h)
        library.setLevel(saved_library)
        runlog.close()
        if runlog.failed:
            print(f"warning: run.log not written ({runlog.failed}); library output was not kept", file=err)
