"""``selfalign run`` and ``selfalign config show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
config_app = typer.Typer(help="Inspect run configs.", no_args_is_help=True)


def run(
    config: Annotated[Path, typer.Argument(help="Run config YAML (see configs/demo.yaml).")],
    run_dir: Annotated[
        Path | None, typer.Option(help="Where outputs go; default runs/<config name>.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only warnings and the final summary.")
    ] = False,
    until: Annotated[str | None, typer.Option(help="Stop after this stage (e.g. responses).")] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also show the library output (warnings, logs) run.log keeps."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Replace RUN_DIR's finished results when a change (model, seed, first stage, code) "
            "would rerun every stage; without it such a run is refused."
        ),
    ] = False,
) -> None:
    """Run the whole pipeline: preflight → instructions → split → responses → critique → SFT → pairs → DPO →
    evaluate → report. Rerunning skips finished stages and resumes an interrupted one; a stage that reruns
    says why (which setting or input changed).

    On a terminal one live table shows the stages, the running one's progress and training loss; otherwise
    one line per stage. Library output goes to RUN_DIR/run.log; selfalign's own warnings stay visible."""
    from selfalign.console import run_console
    from selfalign.pipeline import run_pipeline

    target = run_dir or Path("runs") / config.stem
    with run_console(target, quiet=quiet, verbose=verbose):
        out = run_pipeline(config, target, progress=not quiet, until=until, force=force)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    table = Table(title=f"selfalign run → {out}")
    for col in ("stage", "status", "wall s", "tokens", "counts"):
        table.add_column(col)
    for s in manifest["stages"]:
        counts = ", ".join(f"{k}={v}" for k, v in list(s.get("counts", {}).items())[:4])
        table.add_row(s["name"], s["status"], f"{s['wall_seconds']:.1f}", str(s["tokens_generated"]), counts)
    console.print(table)
    if (lead := result_line(out)) is not None:
        console.print(lead)
    console.print(f"total {manifest['run'].get('wall_seconds', 0):.1f} s; {written_note(out, manifest)}")


def result_line(out: Path) -> str | None:
    """The headline under the stage table: each policy's seeds pooled against the stronger base (the
    report's first sentence), or None when the run has not evaluated."""
    from selfalign.errors import DataError
    from selfalign.report.pooled import lead_sentence

    path = out / "evaluate" / "results.json"
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # written atomically by evaluate: damaged afterwards, say so
        raise DataError(f"{path}: not valid JSON ({e})") from e
    return lead_sentence(results.get("headline"))


def written_note(out: Path, manifest: dict[str, Any]) -> str:
    """What this run left and where: only a report it actually wrote is named."""
    info = manifest["run"]
    if info.get("report"):
        return f"report: {out / info['report']}"
    dirs = ", ".join(str(out / s["dir"]) for s in manifest["stages"])
    if info.get("until"):
        return f"stopped after {info['until']} (--until); outputs: {dirs}; no report written"
    return f"outputs: {dirs}; no report written (run.report is false; `selfalign report {out}` writes one)"


def show(
    config: Annotated[Path | None, typer.Argument(help="Config to resolve; omit for the defaults.")] = None,
    doc: Annotated[bool, typer.Option(help="List every field with its default and description.")] = False,
) -> None:
    """Print the resolved config (defaults filled in), or with --doc every field's documentation."""
    import yaml

    from selfalign.config import describe, load_config, run_config_class

    if doc:
        table = Table("field", "default", "description")
        for path, default, description in describe(run_config_class()):
            table.add_row(path, default, description)
        console.print(table)
        return
    resolved = load_config(config) if config else run_config_class()()
    print(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False))


def register(app: typer.Typer) -> None:
    app.command()(run)
    config_app.command()(show)
    app.add_typer(config_app, name="config")
