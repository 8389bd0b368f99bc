"""``selfalign`` command line. Each area registers its commands from ``selfalign.commands.<area>``.

Every failure the user can act on ends in one line on stderr and a non-zero exit: usage mistakes (exit 2),
selfalign's own errors and disk/path faults (exit 1), Ctrl-C or SIGTERM (exit 130, after writes in flight
were cleaned up). Only a bug shows a traceback.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from types import FrameType

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer 0.29 vendors click here

from selfalign.errors import SelfalignError
from selfalign.faults import as_os_error, describe

app = typer.Typer(
    help="Turn a base language model into an instruction follower using only the model itself.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Areas whose module defines ``register(app)``; each command lives with its area.
_AREAS = ("engine", "data", "judge", "train", "evaluate", "pipeline", "report", "export")

for _area in _AREAS:
    importlib.import_module(f"selfalign.commands.{_area}").register(app)

INTERRUPTED = 130  # the shell's code for a run stopped by SIGINT


def _usage_line(e: typer.TyperException) -> str:
    ctx = getattr(e, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {e.format_message()}{hint}"


def _invoke(argv: list[str] | None, stopped_by: list[str]) -> int:
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="selfalign")
    except SelfalignError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except NoArgsIsHelpError as e:  # bare `selfalign` / `selfalign config`: the help is the answer
        e.show()
        return e.exit_code
    except UsageError as e:
        print(_usage_line(e), file=sys.stderr)
        return e.exit_code
    except typer.TyperException as e:
        print(f"error: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        err = as_os_error(e)
        if err is None:
            raise  # a bug: keep the traceback
        print(f"error: {describe(err)}", file=sys.stderr)
        return 1
    if stopped_by:  # typer turns KeyboardInterrupt into exit 130 silently; say what happened once
        print(
            f"interrupted by {stopped_by[0]}: stopped cleanly; rerun the same command to resume "
            "(finished stages and completed shards are kept)",
            file=sys.stderr,
        )
        return INTERRUPTED
    return rv if isinstance(rv, int) else 0


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every expected failure is one line on stderr."""
    stopped_by: list[str] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped_by.append(signal.Signals(signum).name)
        raise KeyboardInterrupt  # unwinds like Ctrl-C: atomic writes drop their temp files

    if threading.current_thread() is not threading.main_thread():
        return _invoke(argv, stopped_by)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _invoke(argv, stopped_by)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main() -> None:
    raise SystemExit(run())


if __name__ == "__main__":
    main()
