"""``selfalign`` command line. Each area registers its commands from ``selfalign.commands.<area>``."""

from __future__ import annotations

import importlib
import sys

import click
import typer

from selfalign.errors import SelfalignError

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


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; a SelfalignError becomes one line on stderr (no traceback)."""
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="selfalign")
    except SelfalignError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except click.exceptions.ClickException as e:
        e.show()
        return e.exit_code
    return rv if isinstance(rv, int) else 0


def main() -> None:
    raise SystemExit(run())


if __name__ == "__main__":
    main()
