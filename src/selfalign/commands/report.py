"""``selfalign report RUN_DIR``: write the run's static HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from selfalign.report import build_report
from selfalign.runlock import command_line, run_dir_lock


def report(
    run_dir: Annotated[
        Path, typer.Argument(help="Run directory (holds manifest.json and one directory per stage).")
    ],
) -> None:
    """Write RUN_DIR/report.html: one offline file with tables, plots and side-by-side samples."""
    with run_dir_lock(run_dir, command_line(), create=False):  # never beside a run still writing this dir
        path = build_report(run_dir)
    print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command()(report)
