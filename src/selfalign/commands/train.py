"""``selfalign sft`` and ``selfalign dpo``: train a LoRA adapter from a data file with TRL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from selfalign.commands import DEFAULT_MODEL
from selfalign.errors import ConfigError
from selfalign.runlock import locked_call

if TYPE_CHECKING:
    from pydantic import BaseModel

    from selfalign.stages.base import StageContext

console = Console()


def _steps(value: int) -> int:
    if value == 0 or value < -1:  # the trainer would read them as -1 (use the epochs) without a word
        raise typer.BadParameter(f"{value}: a positive number of steps, or -1 to use --epochs")
    return value


Steps = Annotated[int, typer.Option(callback=_steps, help="Stop after N optimizer steps (-1: use --epochs).")]
Epochs = Annotated[float | None, typer.Option(help="Passes over the data (default from the config).")]
Lr = Annotated[float | None, typer.Option("--lr", help="Peak learning rate (default from the config).")]
Batch = Annotated[int | None, typer.Option(help="Examples per step (default from the config).")]
Quant = Annotated[str, typer.Option(help="none, or 4bit (QLoRA) / 8bit on CUDA only.")]
Merge = Annotated[bool, typer.Option(help="Also save a merged full model to OUT/merged.")]
Resume = Annotated[bool, typer.Option(help="Resume from the newest checkpoint in OUT.")]


def _config(cls: type[BaseModel], exact: dict[str, Any], lr: float | None = None, **kw: Any) -> Any:
    """Build the stage config: ``exact`` as given (None there means "all"), the other options where given
    (None: the config's default). A bad option value becomes one ConfigError line, not a traceback."""
    from pydantic import ValidationError

    try:
        return cls(**exact, **{k: v for k, v in {**kw, "learning_rate": lr}.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        option = "lr" if where == "learning_rate" else where.replace("_", "-")
        raise ConfigError(f"--{option} {err['input']!r}: {err['msg']}") from None


def _ctx(name: str, config: Any, out: Path, inputs: dict[str, Path], model: str) -> StageContext:
    from selfalign.engine import ModelSpec
    from selfalign.stages.base import StageContext

    def no_shared_engine() -> Any:
        raise RuntimeError("training stages load their own engine")

    return StageContext(
        name=name,
        config=config,
        out_dir=out,
        inputs=inputs,
        engine=no_shared_engine,
        extra={"model_spec": ModelSpec(ref=model)},
    )


def sft(
    data: Annotated[Path, typer.Option(help="JSONL of {prompt, completion} (validated as kind 'sft').")],
    out: Annotated[Path, typer.Option(help="Output dir: adapter/, metrics.jsonl, checkpoints/, ...")],
    model: Annotated[str, typer.Option(help="Base model reference.")] = DEFAULT_MODEL,
    max_steps: Steps = -1,
    epochs: Epochs = None,
    lr: Lr = None,
    batch_size: Batch = None,
    max_examples: Annotated[int | None, typer.Option(help="At most N examples, round-robin.")] = None,
    quant: Quant = "none",
    merge: Merge = False,
    resume: Resume = True,
) -> None:
    """Supervised fine-tuning of a LoRA adapter; loss on completion tokens only."""
    from selfalign.stages.sft import SFTStageConfig
    from selfalign.stages.sft import run as run_sft

    cfg = _config(SFTStageConfig, {"max_examples": max_examples}, max_steps=max_steps, epochs=epochs, lr=lr,
                  batch_size=batch_size, quant=quant, merge=merge, resume=resume)  # fmt: skip
    result = locked_call(out, run_sft, _ctx("sft", cfg, out, {"sft": data}, model))  # one writer per --out
    console.print(f"sft: {result.counts} → {result.outputs['adapter']}")


def dpo(
    data: Annotated[
        Path, typer.Option(help="JSONL of preference pairs {prompt, chosen, rejected, margin, source}.")
    ],
    out: Annotated[Path, typer.Option(help="Output dir: adapter/, metrics.jsonl, checkpoints/, ...")],
    model: Annotated[str, typer.Option(help="Base model reference.")] = DEFAULT_MODEL,
    sft_adapter: Annotated[
        Path | None,
        typer.Option(help="SFT adapter dir to start from (the reference); omit to start from base."),
    ] = None,
    beta: Annotated[float | None, typer.Option(help="DPO beta (default 0.1).")] = None,
    max_steps: Steps = -1,
    epochs: Epochs = None,
    lr: Lr = None,
    batch_size: Batch = None,
    max_pairs: Annotated[int | None, typer.Option(help="Use only the first N pairs.")] = None,
    quant: Quant = "none",
    merge: Merge = False,
    resume: Resume = True,
) -> None:
    """Direct preference optimisation from the SFT adapter (reference = SFT policy) or from the base."""
    from selfalign.stages.dpo import DPOStageConfig
    from selfalign.stages.dpo import run as run_dpo

    cfg = _config(DPOStageConfig, {"max_pairs": max_pairs, "from_sft": sft_adapter is not None},
                  max_steps=max_steps, epochs=epochs, lr=lr, batch_size=batch_size, quant=quant, merge=merge,
                  resume=resume, beta=beta)  # fmt: skip
    inputs = {"pairs": data} | ({"sft_adapter": sft_adapter} if sft_adapter is not None else {})
    result = locked_call(out, run_dpo, _ctx("dpo", cfg, out, inputs, model))  # one writer per --out
    console.print(f"dpo: {result.counts} → {result.outputs['adapter']}")


def register(app: typer.Typer) -> None:
    app.command()(sft)
    app.command()(dpo)
