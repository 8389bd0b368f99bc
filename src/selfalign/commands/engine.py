"""``selfalign doctor`` and ``selfalign generate``: look at the machine and at exactly what a model sees."""

from __future__ import annotations

import json
import os
import platform
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from selfalign.commands import DEFAULT_MODEL, finite
from selfalign.errors import ContaminationError

if TYPE_CHECKING:
    from selfalign.engine import Engine

console = Console()


def doctor(
    model: Annotated[str, typer.Option(help="Model whose load time and guards to check.")] = DEFAULT_MODEL,
) -> None:
    """Versions, threads, device, cache dir, default-model load time and a guard self-test."""
    import torch

    from selfalign.engine import Engine, ModelSpec
    from selfalign.engine.defaults import cache_dir
    from selfalign.engine.provenance import versions

    table = Table(title="selfalign doctor", show_header=False)
    for name, version in versions().items():
        table.add_row(name, str(version))
    table.add_row("platform", platform.platform())
    table.add_row("torch threads", f"{torch.get_num_threads()} (cpus: {os.cpu_count()})")
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    table.add_row("cuda", cuda)
    table.add_row("cache dir", str(cache_dir()))
    started = time.perf_counter()
    engine = Engine.load(ModelSpec(ref=model))
    table.add_row(f"load {model}", f"{time.perf_counter() - started:.2f} s (incl. sentinels)")
    table.add_row("dtype / quant", f"{engine.provenance['dtype']} / {engine.provenance['quantization']}")
    table.add_row(
        "templates removed", "; ".join(engine.provenance["guards"]["chat_templates_removed"]) or "none"
    )
    bos = engine.guard.bos
    rule = f"{bos.token!r} (id {bos.bos_id}) first" if bos.bos_id is not None else "no BOS"
    table.add_row("BOS rule", rule)
    table.add_row("BOS rule from", bos.source)
    probe = _control_probe(engine)
    try:  # the audit must refuse a literal chat-control token
        engine.guard.encode(f"{probe}user hi")
        table.add_row("guard self-test", f"[red]FAILED: control token {probe!r} was accepted[/red]")
        failed = True
    except ContaminationError:
        table.add_row("guard self-test", f"ok (control token {probe!r} refused)")
        failed = False
    for s in engine.provenance.get("sentinels", []):
        table.add_row("sentinel", f"{s['input']!r} → {s['output']!r}")
    console.print(table)
    if failed:
        raise typer.Exit(1)


def _control_probe(engine: Engine) -> str:
    """A chat-control token of this model's own vocabulary (a turn marker where it has one)."""
    tokens = set(engine.guard.control.values())
    for known in ("<start_of_turn>", "<|im_start|>", "<|start_header_id|>"):
        if known in tokens:
            return known
    return sorted(t for t in tokens if t)[0]


def generate(
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Exact prompt text (no template is added).")],
    model: Annotated[str, typer.Option(help="Model reference.")] = DEFAULT_MODEL,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Tokens to generate at most.")] = 64,
    temperature: Annotated[float, typer.Option(min=0.0, callback=finite, help="0 = greedy.")] = 0.0,
    seed: Annotated[int, typer.Option(min=0, help="Sampling seed.")] = 0,
    stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable); decoded text.")] = None,
    show_tokens: Annotated[
        bool, typer.Option(help="Print token ids and pieces of prompt and output.")
    ] = False,
    allow_special: Annotated[bool, typer.Option(help="Let the prompt contain chat-control tokens.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Generation as JSON.")] = False,
) -> None:
    """Complete PROMPT exactly as given and show what the model saw (the first version's show_prompts)."""
    from selfalign.engine import Engine, GenParams, ModelSpec

    engine = Engine.load(ModelSpec(ref=model))
    prompt = prompt.replace("\\n", "\n").replace("\\t", "\t")  # shells make real newlines awkward
    params = GenParams(
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, stop=tuple(stop or ())
    )
    g = engine.generate([prompt], params, allow_special=allow_special)[0]
    if as_json:
        print(json.dumps(g.__dict__, indent=2))
        return
    console.rule("prompt (exact text fed to the model)")
    console.print(repr(g.prompt), markup=False)
    console.rule(f"completion ({g.n_tokens} tokens, stop_reason={g.stop_reason})")
    console.print(g.text, markup=False)
    if show_tokens:
        # The prompt as fed: the model's BOS (if its rule adds one) at position 0, then the text's ids.
        for title, text, bos in (("prompt tokens", g.prompt, True), ("output tokens", g.raw, False)):
            ids = engine.guard.encode(text, allow_special=True, bos=bos) if text or bos else []
            console.rule(title)
            console.print(
                " ".join(f"{i}:{engine.guard.decode([i])!r}" for i in ids), markup=False, soft_wrap=True
            )


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    app.command()(generate)
