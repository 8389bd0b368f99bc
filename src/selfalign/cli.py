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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

# Areas whose module defines ``register(app)``; each command lives with its area.
_AREAS = ("engine", "data", "judge", "train", "evaluate", "pipeline", "report", "export")

INTERRUPTED = 130  # the shell's code for a run stopped by SIGINT


def _build_app() -> typer.Typer:
    """The command tree. Built on first use, not at import: a Ctrl-C while Python starts ``selfalign`` then
    lands in :func:`run`'s handling (one line, exit 130), never in a traceback from module imports."""
    import typer

    app = typer.Typer(
        help="Turn a base language model into an instruction follower using only the model itself.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    def show_version(value: bool) -> None:
        if value:
            from selfalign import __version__

            print(f"selfalign {__version__}")
            raise typer.Exit()

    @app.callback()
    def root(  # the annotation is a plain ``bool``: this module imports typer only here, at build time
        version: bool = typer.Option(
            False, "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        pass

    for area in _AREAS:
        importlib.import_module(f"selfalign.commands.{area}").register(app)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # ``selfalign.cli.app``, built once; tests may replace it with monkeypatch.setattr
        globals()["app"] = _build_app()
        return globals()["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _usage_line(e: Any) -> str:
    ctx = getattr(e, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {e.format_message()}{hint}"


def _option_line(e: Exception, app: typer.Typer, argv: list[str]) -> str | None:
    """A pydantic ValidationError from the config a command builds out of its options (``split
    --test-fraction 1.5``), as one line naming the option; None for any other exception. Every command
    gets this here, so none needs its own try/except around its config."""
    core = sys.modules.get("pydantic_core")  # not imported yet: it cannot be a ValidationError
    if core is None or not isinstance(e, core.ValidationError):
        return None
    import typer

    err = e.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    command = typer.main.get_command(app)
    for word in argv:  # the invoked (sub)command, to check the field is one of its options
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command = sub
    if err["loc"] and err["loc"][0] in {p.name for p in command.params}:
        return f"error: --{field.replace('_', '-')} {err['input']!r}: {err['msg']}"
    return f"error: {e.title}: {field}: {err['msg']} (got {err['input']!r})"


def _invoke(argv: list[str] | None, stopped_by: list[str]) -> int:
    import typer
    from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer 0.29 vendors click here

    from selfalign.errors import SelfalignError
    from selfalign.faults import as_os_error, describe

    app = globals()["app"] if "app" in globals() else __getattr__("app")
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="selfalign")
    except KeyboardInterrupt:  # before typer's own handling began (building the commands)
        rv = INTERRUPTED
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
        line = _option_line(e, app, list(sys.argv[1:] if argv is None else argv))
        if line is not None:
            print(line, file=sys.stderr)
            return 1
        err = as_os_error(e)
        if err is None:
            raise  # a bug: keep the traceback
        print(f"error: {describe(err)}", file=sys.stderr)
        return 1
    if stopped_by or rv == INTERRUPTED:  # typer turns KeyboardInterrupt into 130 silently; say it once
        signal_name = stopped_by[0] if stopped_by else "SIGINT"
        print(
            f"interrupted by {signal_name}: stopped cleanly; rerun the same command to resume "
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

    from selfalign.console.routing import library_deprecations_logged

    if threading.current_thread() is not threading.main_thread():
        with library_deprecations_logged():
            return _invoke(argv, stopped_by)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with library_deprecations_logged():
            return _invoke(argv, stopped_by)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main() -> None:
    try:
        code = run()
    except KeyboardInterrupt:  # Ctrl-C before run() installed its handler (while Python imported selfalign)
        print("interrupted by SIGINT while starting: nothing was done", file=sys.stderr)
        code = INTERRUPTED
    raise SystemExit(code)


if __name__ == "__main__":
    main()
