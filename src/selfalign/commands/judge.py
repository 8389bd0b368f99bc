"""``selfalign judge`` (the self-critic on a responses file) and ``selfalign pairs`` (preference pairs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from selfalign.commands import DEFAULT_MODEL, SCORER_NAMES, finite
from selfalign.errors import ConfigError
from selfalign.runlock import locked_call

if TYPE_CHECKING:
    from selfalign.engine import Engine

console = Console(stderr=True)  # tables and progress on stderr; stdout stays clean for data

Model = Annotated[str, typer.Option(help="Model reference (embedded name, local dir or .gguf).")]
Adapter = Annotated[
    Path | None, typer.Option(help="LoRA adapter directory to judge/sample with (default: the plain base).")
]
PerKind = Annotated[
    int,
    typer.Option(min=1, help="Check-set cases per open-ended kind when calibrating (more = slower, surer)."),
]
Seed = Annotated[int, typer.Option(min=0, help="Seed of the check set (and of sampling, for pairs).")]
Batch = Annotated[int, typer.Option(min=1, help="Sequences per forward pass.")]
CacheDir = Annotated[
    Path | None,
    typer.Option(help="Reuse/store calibration tables here (keyed by weights, scorers, n, seed)."),
]


def _engine(model: str, adapter: Path | None) -> tuple[Engine, str | None]:
    from selfalign.engine import Engine, ModelSpec

    engine = Engine.load(ModelSpec(ref=model))
    engine.text_is_data = True  # the critic's prompts embed model answers
    if adapter is None:
        return engine, None
    engine.add_adapter("policy", adapter)
    return engine, "policy"


def judge(
    input: Annotated[
        Path | None,
        typer.Argument(help="Responses JSONL (id, instruction, text or response, optional constraints)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Judgments JSONL to write (default: INPUT.judged.jsonl)."),
    ] = None,
    scorer: Annotated[
        str,
        typer.Option(
            help=f"Pointwise scorer, or 'auto' (calibrate, pick the best); one of {', '.join(SCORER_NAMES)}."
        ),
    ] = "auto",
    model: Model = DEFAULT_MODEL,
    adapter: Adapter = None,
    checks: Annotated[
        bool, typer.Option(help="Judge items with constraints by their checks instead of the model.")
    ] = True,
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0,
            callback=finite,
            help="A judgment is 'confident' when orders agree and |margin| exceeds this.",
        ),
    ] = 0.0,
    calibration_per_kind: PerKind = 8,
    calibrate_only: Annotated[
        bool, typer.Option(help="Only measure the scorers on the check set and print the table.")
    ] = False,
    seed: Seed = 0,
    batch_size: Batch = 16,
    cache_dir: CacheDir = None,
) -> None:
    """Judge every response in INPUT with the model's own critic; write one judgment per line."""
    from selfalign.data.jsonl import write_jsonl_atomic
    from selfalign.judge.batch import judge_items, load_items, records
    from selfalign.judge.select import choose

    if input is None and not calibrate_only:
        raise ConfigError("give a responses JSONL to judge, or --calibrate-only")
    items = load_items(input) if input is not None else []
    engine, name = _engine(model, adapter)
    # --calibrate-only measures every model scorer (pairwise too); judging needs a pointwise one.
    choice = choose(engine, scorer, n_per_kind=calibration_per_kind, seed=seed,
                    calibrate_named=calibrate_only, require_pointwise=not calibrate_only, adapter=name,
                    cache_dir=cache_dir)  # fmt: skip
    if choice.table is not None:
        console.print(choice.table.markdown(), markup=False)
        for s, prior in choice.table.priors.items():
            console.print(f"prior {s} (content-free): {json.dumps(prior)}", markup=False)
        console.print(f"chosen: {choice.scorer.name}" + (" (cached table)" if choice.cached else ""))
    if calibrate_only:
        return
    assert input is not None
    choice.scorer.batch_size = batch_size
    judgments = judge_items(engine, items, choice.scorer, checks_for_constrained=checks, adapter=name)
    out = output or input.with_suffix(".judged.jsonl")
    write_jsonl_atomic(out, records(judgments, threshold))
    good = sum(j.p_good > 0.5 for j in judgments)
    console.print(f"{len(judgments)} judgments ({good} judged good) by {choice.scorer.name} → {out}")


def pairs(
    instructions: Annotated[
        Path, typer.Argument(help="Instructions JSONL (id, text, optional constraints).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (pairs.jsonl, manifest.json...).")
    ],
    model: Model = DEFAULT_MODEL,
    adapter: Adapter = None,
    critic: Annotated[str, typer.Option(help="'auto' (calibrate, pick the best) or a scorer name.")] = "auto",
    n_samples: Annotated[int, typer.Option(help="Samples per instruction (best-of-N).")] = 4,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per sample at most.")] = 96,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (> 0).")] = 0.8,
    margin_threshold: Annotated[
        float | None, typer.Option(help="Minimum critic margin chosen over rejected (default: the scorer's).")
    ] = None,
    negatives_ratio: Annotated[
        float, typer.Option(help="Model-derived negative pairs per instruction (0 = none).")
    ] = 0.0,
    calibration_per_kind: PerKind = 8,
    seed: Seed = 0,
    batch_size: Batch = 16,
) -> None:
    """Sample N answers per instruction from the model (or adapter), rank them by the critic, write pairs."""
    from pydantic import ValidationError

    from selfalign.stages.base import StageContext
    from selfalign.stages.pairs import PairsConfig
    from selfalign.stages.pairs import run as run_pairs

    try:
        cfg = PairsConfig(
            policy="policy" if adapter else None, n_samples=n_samples, max_new_tokens=max_new_tokens,
            temperature=temperature, critic=critic, calibration_per_kind=calibration_per_kind,
            margin_threshold=margin_threshold, batch_size=batch_size,
            negatives={"ratio": negatives_ratio},  # a dict: an error names negatives.ratio
        )  # fmt: skip
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(
            f"--{'-'.join(str(p) for p in err['loc']).replace('_', '-')} {err['input']!r}: {err['msg']}"
        ) from None
    engine, _ = _engine(model, adapter)
    ctx = StageContext("pairs", cfg, out, {"instructions": instructions}, lambda: engine, seed=seed)
    res = locked_call(out, run_pairs, ctx)  # one writer per --out
    console.print(f"{res.counts['pairs']} pairs from {res.counts['instructions']} instructions "
                  f"({json.dumps(res.metrics['by_source'])}) → {res.outputs['pairs']}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(judge)
    app.command()(pairs)
