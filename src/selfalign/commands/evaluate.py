"""``selfalign evaluate``: base zero-shot, base few-shot and any adapters on the same held-out items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from selfalign.atomic import write_text_atomic
from selfalign.commands import BASE_FEW_SHOT, DEFAULT_MODEL
from selfalign.console.tables import print_uncut
from selfalign.errors import ConfigError
from selfalign.evaluate.critic import FALLBACK
from selfalign.runlock import locked_call

if TYPE_CHECKING:
    from selfalign.engine import Engine

console = Console()
AUTO = "auto"  # --baseline: the stronger base condition (benchmarks), base_few_shot (--items)


def parse_adapters(specs: list[str]) -> dict[str, str]:
    """``name=path`` pairs → dict; a bare path is named after its directory."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).name, spec
        if not name or not path:
            raise ConfigError(f"--adapter {spec!r}: expected NAME=PATH")
        if name in out:
            raise ConfigError(f"--adapter: name {name!r} given twice")
        out[name] = path
    return out


BENCHMARKS = ("ifeval",)


def _inputs(items: Path | None, benchmark: str | None, data: Path | None) -> dict[str, Path]:
    """``--items FILE``, or ``--benchmark NAME --data FILE``: exactly one of the two."""
    if benchmark is None:
        if data is not None:
            raise ConfigError("--data is the file of a --benchmark; give --benchmark ifeval (or use --items)")
        if items is None:
            raise ConfigError("give --items FILE, or --benchmark ifeval --data FILE")
        return {"heldout": items}
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"--benchmark {benchmark!r}: unknown (choose one of {', '.join(BENCHMARKS)})")
    if items is not None:
        raise ConfigError("--items and --benchmark exclude each other: the benchmark file is the item set")
    if data is None:
        raise ConfigError(f"--benchmark {benchmark} needs --data FILE (JSONL in {benchmark}'s input format)")
    return {"data": data}


def evaluate(
    out: Annotated[Path, typer.Option(help="Directory for items.jsonl, results.json and manifest.json.")],
    items: Annotated[
        Path | None, typer.Option(help="Held-out items JSONL (id, instruction, category, constraints).")
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option(help="Score a published benchmark's file instead of --items: 'ifeval' (needs --data)."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="--benchmark ifeval: JSONL in IFEval's input format (key, prompt, "
            "instruction_id_list, kwargs), scored with IFEval's own checkers."
        ),
    ] = None,
    adapter: Annotated[
        list[str] | None,
        typer.Option(help="PEFT adapter to evaluate, NAME=PATH (repeatable); each becomes a condition."),
    ] = None,
    model: Annotated[str, typer.Option(help="Base model reference (adapters must fit it).")] = DEFAULT_MODEL,
    baseline: Annotated[
        str,
        typer.Option(
            help="Condition the others are compared with. 'auto': with --benchmark the stronger "
            f"base condition (zero- or few-shot, as the pipeline's headline picks it), with --items "
            f"{BASE_FEW_SHOT} (results.json's headline also compares with the stronger one)."
        ),
    ] = AUTO,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens generated per answer at most.")] = 128,
    batch_size: Annotated[int, typer.Option(help="Prompts per batch.")] = 16,
    critic: Annotated[
        str, typer.Option(help="Pairwise critic for open-ended items; 'none' to skip.")
    ] = FALLBACK,
    shots: Annotated[int, typer.Option(help="Solved examples in the base few-shot prompt.")] = 3,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for lift intervals.")] = 2000,
    seed: Annotated[int, typer.Option(min=0, help="Generation and bootstrap seed.")] = 0,
    categories: Annotated[bool, typer.Option(help="Also print the per-category table.")] = True,
    backend: Annotated[
        str, typer.Option(help="Engine backend: torch (the reference), vllm (needs `make vllm`) or auto.")
    ] = "torch",
    reuse: Annotated[
        list[Path] | None,
        typer.Option(
            help="An earlier evaluation's --out (or a run's evaluate/ dir), repeatable: a condition it kept "
            "under the same key (code, weights, adapter files, prompts, decoding) is read, not generated."
        ),
    ] = None,
) -> None:
    """Evaluate base (zero-/few-shot) and every --adapter on the same items; write and print results.

    With --benchmark ifeval --data FILE the items are IFEval prompts, scored by IFEval's checkers
    (prompt/instruction level, strict/loose) with the same paired statistics.
    """
    from selfalign.engine import Engine, ModelSpec
    from selfalign.engine.backend import BackendSpec
    from selfalign.evaluate.table import category_table, summary_table
    from selfalign.stages.base import StageContext
    from selfalign.stages.evaluate import EvaluateConfig
    from selfalign.stages.evaluate import run as run_stage

    inputs = _inputs(items, benchmark, data)
    if backend not in ("torch", "vllm", "auto"):
        raise ConfigError(f"--backend {backend!r}: choose torch, vllm or auto")
    backend_spec = BackendSpec(backend=backend)  # type: ignore[arg-type]  # checked just above
    cfg = EvaluateConfig(
        adapters=parse_adapters(adapter or []),
        baseline=BASE_FEW_SHOT if baseline == AUTO and benchmark is None else baseline,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        critic=None if critic == "none" else critic,
        shots=shots,
        n_boot=n_boot,
        seed=seed,
        reuse=[str(r) for r in reuse or []],
    )
    engines: list[Engine] = []

    def engine() -> Engine:
        if not engines:
            engines.append(Engine.load(ModelSpec(ref=model), backend=backend_spec))
            engines[-1].text_is_data = True  # its prompts embed model text
        return engines[0]

    ctx = StageContext(name="evaluate", config=cfg, out_dir=out, inputs=inputs, engine=engine)
    try:
        if benchmark is not None:
            from selfalign.benchmarks.ifeval_run import run_ifeval  # lm-eval is imported only when asked for
            from selfalign.benchmarks.ifeval_table import ifeval_table

            result = locked_call(out, run_ifeval, ctx)  # one writer per --out
            print_uncut(console, ifeval_table(json.loads(result.outputs["results"].read_text("utf-8"))))
            console.print(f"wrote {result.outputs['items']} and {result.outputs['results']}")
            return
        result = locked_call(out, run_stage, ctx)
        results = json.loads(result.outputs["results"].read_text("utf-8"))
        print_uncut(console, summary_table(results))
        if categories:
            print_uncut(console, category_table(results))
        if results.get("reused"):
            console.print(f"reused (not generated): {', '.join(sorted(results['reused']))}")
        peak = max(m["peak_rss_mb"] for m in results["memory"])
        wrote = f"wrote {result.outputs['items']} and {result.outputs['results']}"
        console.print(f"peak RSS {peak:.0f} MiB; {wrote}")
    finally:  # vLLM's worker processes end with the command, not at interpreter exit
        for e in engines:
            if e.backend is not None:
                e.backend.close()


def compare(
    policies: Annotated[
        list[str], typer.Argument(help="Policies as RUN_DIR:CONDITION, e.g. runs/proof6:sft runs/proof9:sft.")
    ],
    baseline: Annotated[
        str, typer.Option(help="The condition every policy is compared with, as RUN_DIR:CONDITION.")
    ],
    markdown: Annotated[Path | None, typer.Option(help="Also write the tables as Markdown here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON here.")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Bootstrap and permutation seed.")] = 0,
) -> None:
    """Policies from several runs (e.g. SFT seeds) on the same held-out items: each vs a baseline, pooled."""
    from selfalign.evaluate.across import compare_runs
    from selfalign.evaluate.across import markdown as across_markdown

    res = compare_runs(baseline, policies, seed=seed)
    text = across_markdown(res)
    print(text, end="")
    if markdown is not None:
        write_text_atomic(markdown, text)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(res, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(evaluate)
    app.command()(compare)
