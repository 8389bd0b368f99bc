"""``selfalign export RUN_DIR --out DIR``: a trained policy as a directory transformers / peft load as is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `selfalign run`.")],
    out: Annotated[Path, typer.Option(help="Export directory (must not exist, or be empty).")],
    policy: Annotated[
        str, typer.Option(help="Which adapter: sft, sft-rN, dpo or dpo-rN; seed K's: sft-sK, dpo-sK.")
    ] = "dpo",
    merge: Annotated[
        bool, typer.Option(help="Also merge the adapter into an fp32 base and save full safetensors.")
    ] = False,
) -> None:
    """Export a policy: tokenizer with a chat template for selfalign's format (checked token for token on
    the held-out items), generation_config.json, model card, and the adapter or (--merge) a merged model."""
    from selfalign.engine.quiet import quiet
    from selfalign.export import export_run  # torch/transformers load only when the command runs

    with quiet():  # library warnings and "Writing model shards" bars are not the command's output
        facts = export_run(run_dir, out, policy, merge)
    checks = facts.get("checks") or {}
    print(f"wrote {out} ({policy}, {'merged' if merge else 'adapter'})")
    greedy = checks.get("merged_vs_unmerged")
    if greedy and greedy["differ"]:
        n, of = greedy["differ"], greedy["items"]
        print(f"warning: merged and unmerged greedy outputs differ on {n} of {of} held-out items "
              "(listed in export-checks.json)")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(export)
