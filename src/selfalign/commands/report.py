"""``selfalign report RUN_DIR``: write the run's static HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from selfalign.atomic import write_text_atomic
from selfalign.errors import RunDirError
from selfalign.runlock import command_line, run_dir_lock


def report(
    run_dir: Annotated[
        Path, typer.Argument(help="Run directory (holds manifest.json and one directory per stage).")
    ],
    markdown: Annotated[
        Path | None,
        typer.Option(help="Also write the measured tables as Markdown to this file (for docs/RESULTS.md)."),
    ] = None,
) -> None:
    """Write RUN_DIR/report.html: one offline file with tables, plots and side-by-side samples."""
    from selfalign.report import build_report
    from selfalign.report.markdown import results_markdown

    with run_dir_lock(run_dir, command_line(), create=False):  # never beside a run still writing this dir
        if not (run_dir / "manifest.json").is_file():  # a report of nothing is no report
            raise RunDirError(
                f"{run_dir}: not a selfalign run directory (no manifest.json; `selfalign run` writes one)"
            )
        path = build_report(run_dir)
        text = results_markdown(run_dir) if markdown is not None else None
    print(f"wrote {path}")
    if markdown is not None and text is not None:
        write_text_atomic(markdown, text)
        print(f"wrote {markdown}")


def register(app: typer.Typer) -> None:
    app.command()(report)
