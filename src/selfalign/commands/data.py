"""Data commands: ``selfalign data validate|inspect`` and the generation stages ``instructions``, ``split``
and ``responses`` (each runs its stage alone, resumable in its ``--out`` directory)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from selfalign.commands import DEFAULT_MODEL
from selfalign.errors import ConfigError
from selfalign.runlock import locked_call

if TYPE_CHECKING:
    from pydantic import BaseModel

    from selfalign.engine import Engine
    from selfalign.stages.base import StageContext, StageResult

console = Console()

# The names users type (plural, as in the issue) → record kinds of selfalign.data.schemas.
KIND_NAMES = {
    "instructions": "instruction",
    "responses": "response",
    "sft": "sft",
    "pairs": "pair",
    "judgments": "judgment",
    "eval": "eval",
}

data_app = typer.Typer(help="Check and look at JSONL datasets.", no_args_is_help=True)


@data_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="JSONL file to check.")],
    kind: Annotated[str, typer.Option(help=f"Record kind: {', '.join(KIND_NAMES)}.")],
    max_errors: Annotated[
        int, typer.Option(min=1, help="Report up to this many bad lines (first one decides).")
    ] = 1,
) -> None:
    """Check every line of FILE against the schema of KIND; errors name file, line and field."""
    from selfalign.data.schemas import ValidationErrors, validate_file

    if kind not in KIND_NAMES:
        raise ConfigError(f"--kind {kind!r}: one of {', '.join(KIND_NAMES)}")
    try:
        records = validate_file(file, KIND_NAMES[kind], max_errors=max_errors)
    except ValidationErrors as e:
        if len(e.errors) == 1:
            raise
        for err in e.errors:  # several bad lines asked for: one line each, in file order
            typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {file}: {len(records)} {kind} records")


@data_app.command("inspect")
def inspect(
    file: Annotated[Path, typer.Argument(help="JSONL file to summarize.")],
    k: Annotated[int, typer.Option(min=0, help="Random sample records to show.")] = 3,
    seed: Annotated[int, typer.Option(min=0, help="Seed choosing the samples.")] = 0,
    text_key: Annotated[
        str | None, typer.Option(help="Field measured for length and duplicates (default: by kind).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Counts, categories, lengths, near-duplicate clusters, QC rates and random samples of FILE."""
    from selfalign.data.inspect import render, summarize

    summary = summarize(file, k=k, seed=seed, text_key=text_key)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    else:
        console.print(render(summary))


def _engine_factory(model: str) -> Callable[[], Engine]:
    engines: list[Engine] = []

    def engine() -> Engine:
        from selfalign.engine import Engine, ModelSpec

        if not engines:
            engines.append(Engine.load(ModelSpec(ref=model)))
            engines[-1].text_is_data = True  # its prompts embed model text
        return engines[0]

    return engine


def _run(stage: Callable[[StageContext], StageResult], name: str, cfg: BaseModel, out: Path,
         inputs: dict[str, Path], model: str) -> None:  # fmt: skip
    from selfalign.stages.base import StageContext

    ctx = StageContext(name=name, config=cfg, out_dir=out, inputs=inputs, engine=_engine_factory(model))
    result = locked_call(out, stage, ctx)  # one writer per --out, as `run` holds its run dir
    shown: dict[str, Any] = {
        "outputs": {k: str(v) for k, v in result.outputs.items()},
        "counts": result.counts,
    }
    shown["metrics"] = result.metrics
    console.print_json(json.dumps(shown, default=str))


def instructions(
    out: Annotated[
        Path, typer.Option(help="Directory for instructions.jsonl, attempts.jsonl, manifest.json.")
    ],
    n: Annotated[int, typer.Option(help="Unique instructions wanted.")] = 200,
    max_prompts: Annotated[int, typer.Option(help="Attempt budget: list prompts sent at most.")] = 480,
    model: Annotated[str, typer.Option(help="Base model reference.")] = DEFAULT_MODEL,
    shots: Annotated[int, typer.Option(help="Seed instructions shown per list prompt.")] = 6,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.9,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per list prompt at most.")] = 160,
    batch_size: Annotated[int, typer.Option(help="List prompts per batch (one shard each).")] = 8,
    seed: Annotated[int, typer.Option(min=0, help="Seed of prompts and sampling.")] = 0,
) -> None:
    """The model writes instructions by continuing numbered lists; dedup, quotas; resumable in --out."""
    from selfalign.stages.instructions import InstructionsConfig
    from selfalign.stages.instructions import run as run_instructions

    cfg = InstructionsConfig(
        n=n, max_prompts=max_prompts, shots=shots, temperature=temperature,
        max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
    )  # fmt: skip
    _run(run_instructions, "instructions", cfg, out, {}, model)


def split(
    instructions_file: Annotated[Path, typer.Option("--instructions", help="Instructions JSONL to split.")],
    out: Annotated[Path, typer.Option(help="Directory for train.jsonl, test.jsonl, manifest.json.")],
    test_fraction: Annotated[float, typer.Option(help="Share of each category held out.")] = 0.2,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the split and of constraint sampling.")] = 0,
) -> None:
    """Held-out test split (stratified, with constraints, leakage-checked) before any training data."""
    from selfalign.stages.split import SplitConfig
    from selfalign.stages.split import run as run_split

    cfg = SplitConfig(test_fraction=test_fraction, seed=seed)
    _run(run_split, "split", cfg, out, {"instructions": instructions_file}, DEFAULT_MODEL)


def responses(
    instructions_file: Annotated[
        Path, typer.Option("--instructions", help="Training instructions JSONL (the split's train.jsonl).")
    ],
    out: Annotated[Path, typer.Option(help="Directory for responses.jsonl and manifest.json.")],
    test: Annotated[
        Path | None, typer.Option(help="Held-out test JSONL: pool examples near-copying it are never shown.")
    ] = None,
    model: Annotated[str, typer.Option(help="Base model reference.")] = DEFAULT_MODEL,
    shots: Annotated[int, typer.Option(help="Solved examples per prompt.")] = 3,
    samples: Annotated[int, typer.Option(help="Responses per instruction.")] = 1,
    limit: Annotated[int | None, typer.Option(help="Answer only the first N instructions.")] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0 = greedy).")] = 0.7,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per response at most.")] = 192,
    batch_size: Annotated[int, typer.Option(help="Prompts per batch (one shard each).")] = 8,
    seed: Annotated[int, typer.Option(min=0, help="Seed of shots and sampling.")] = 0,
) -> None:
    """The model answers each instruction from a few-shot prompt; QC flags; resumable in --out."""
    from selfalign.stages.responses import ResponsesConfig
    from selfalign.stages.responses import run as run_responses

    cfg = ResponsesConfig(
        shots=shots, samples=samples, limit=limit, temperature=temperature,
        max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
    )  # fmt: skip
    inputs = {"instructions": instructions_file} | ({"test": test} if test is not None else {})
    _run(run_responses, "responses", cfg, out, inputs, model)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.command()(instructions)
    app.command()(split)
    app.command()(responses)
