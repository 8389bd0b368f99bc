"""What SFT and DPO share: device/precision rules, LoRA config, Trainer arguments, metrics, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig
from transformers import TrainerCallback

from selfalign.atomic import write_text_atomic
from selfalign.errors import ConfigError, QuantizationError
from selfalign.train.checkpoints import finished, last_complete
from selfalign.train.config import TrainSettings


def check_quant(settings: TrainSettings) -> None:
    """Refuse a 4-bit/8-bit training config where it cannot run, before any model is loaded."""
    if settings.quant == "none":
        return
    if not torch.cuda.is_available():
        raise QuantizationError(
            f"train quant '{settings.quant}' (QLoRA) needs a CUDA GPU and bitsandbytes; this machine has no "
            "CUDA. Set quant: none to train in fp32 on CPU"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as e:
        raise QuantizationError(
            f"train quant '{settings.quant}' needs bitsandbytes: pip install bitsandbytes"
        ) from e
    if settings.merge:
        raise ConfigError(
            "train.merge: merging an adapter into a quantized base is not supported; set merge: false"
        )


def prepare_base(model: Any, settings: TrainSettings, provenance: dict[str, Any]) -> Any:
    """Check the loaded base matches the config; for QLoRA, make the k-bit base trainable (peft's recipe)."""
    loaded = provenance.get("quantization", "none")
    if loaded != settings.quant:
        raise ConfigError(f"train quant is '{settings.quant}' but the engine loaded the base as '{loaded}'")
    if settings.quant != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=settings.gradient_checkpointing
        )
    return model


def lora_config(settings: TrainSettings) -> LoraConfig:
    return LoraConfig(
        r=settings.lora.r,
        lora_alpha=settings.lora.alpha,
        lora_dropout=settings.lora.dropout,
        target_modules=list(settings.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def on_cuda(model: Any) -> bool:
    return next(model.parameters()).device.type == "cuda"


def trainer_kwargs(settings: TrainSettings, checkpoints: Path, cuda: bool) -> dict[str, Any]:
    """Arguments common to SFTConfig and DPOConfig. bf16 on CUDA, fp32 on CPU, never silently."""
    return {
        "output_dir": str(checkpoints),
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": settings.learning_rate,
        "lr_scheduler_type": settings.lr_scheduler,
        "warmup_steps": settings.warmup_ratio,  # a float < 1 is a ratio of the total steps (transformers 5)
        "weight_decay": settings.weight_decay,
        "max_grad_norm": settings.max_grad_norm,
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps,
        "max_length": settings.max_length,
        "gradient_checkpointing": settings.gradient_checkpointing,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "logging_steps": settings.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
        "bf16": cuda,
        "fp16": False,
        "use_cpu": not cuda,
        "report_to": [],  # TensorBoard is attached explicitly (see callbacks) so its dir is ours
        "disable_tqdm": True,
        "logging_nan_inf_filter": False,  # a NaN loss is logged as NaN (and stops the run: train/finite.py)
        "dataloader_num_workers": 0,
    }


def resume_point(checkpoints: Path, settings: TrainSettings) -> str | None:
    """The newest *complete* checkpoint to resume from (see :mod:`selfalign.train.checkpoints`)."""
    if not settings.resume:
        return None
    ckpt = last_complete(checkpoints)
    return str(ckpt) if ckpt is not None else None


class MetricsJsonl(TrainerCallback):
    """Append every Trainer log (loss, lr, grad norm, DPO rewards...) to ``metrics.jsonl``, one line each.

    On a resumed run, lines past the checkpoint's step are dropped first, so the curve has no duplicates; a
    line torn by a kill mid-append is dropped too. (The one file written by appending: a log, repaired here.)
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:  # multi-process: rank 0 logs the gathered loss
            return
        kept: list[str] = []
        if state.global_step > 0 and self.path.is_file():
            for line in self.path.read_text("utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if row.get("step", 0) <= state.global_step:
                    kept.append(line)
        write_text_atomic(self.path, "".join(f"{line}\n" for line in kept))

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, default=float) + "\n")


def tensorboard_callback(log_dir: Path) -> TrainerCallback:
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    return TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(log_dir)))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def is_main(trainer: Any) -> bool:
    """The process that writes outputs: the only one, or rank 0 of a multi-process (accelerate) run."""
    return bool(trainer.accelerator.is_main_process)


def publish(
    trainer: Any,
    model: Any,
    engine: Any,
    outcome: Any,
    settings: TrainSettings,
    out_dir: Path,
    *,
    kind: str,
    data: dict[str, Any] | None,
    parent_adapter: str | None = None,
) -> Any:
    """Card, adapter dir and optional merged model, written by rank 0; every process waits for them."""
    from selfalign.atomic import publish_dir, staging_dir
    from selfalign.train.finite import refuse_nonfinite
    from selfalign.train.outputs import make_portable, save_merged, write_card

    if is_main(trainer):
        refuse_nonfinite(outcome.adapter_dir, kind)  # never publish a NaN adapter as a success
        make_portable(engine, outcome.adapter_dir)
        write_card(outcome.adapter_dir, kind=kind, provenance=engine.provenance, settings=settings,
                   data=data or {}, outcome=outcome, parent_adapter=parent_adapter)  # fmt: skip
        outcome.adapter_dir = publish_dir(outcome.adapter_dir, out_dir / "adapter")  # complete, card included
        if settings.merge:
            merged = save_merged(model, engine.tokenizer, staging_dir(out_dir / "merged"))
            outcome.merged_dir = publish_dir(merged, out_dir / "merged")
    elif settings.merge:
        outcome.merged_dir = out_dir / "merged"
    trainer.accelerator.wait_for_everyone()  # a no-op in one process
    return outcome


def release_memory() -> None:
    """Return freed memory after the caller dropped its engine (one base in memory at a time)."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train_and_save(
    trainer: Any, out_dir: Path, settings: TrainSettings, n_examples: int, n_tokens: int
) -> tuple[Any, Any]:
    """Train (resuming from the newest complete checkpoint), save the adapter; return (model, TrainOutcome).

    The adapter is saved into a staging dir (``outcome.adapter_dir``): the caller adds its card, then
    :func:`~selfalign.atomic.publish_dir` moves it to ``out_dir/adapter`` complete.
    """
    from selfalign.atomic import staging_dir
    from selfalign.train.outputs import TrainOutcome, last_values, save_adapter

    resume = resume_point(out_dir / "checkpoints", settings)
    metrics_path = out_dir / "metrics.jsonl"
    if resume is not None and finished(Path(resume)):
        # Killed after the last checkpoint: its weights are the trained ones. Trainer.train would run a step
        # past max_steps (see checkpoints.finished), so load them as train() itself would, and train nothing.
        trainer._load_from_checkpoint(resume)
        state = json.loads((Path(resume) / "trainer_state.json").read_text(encoding="utf-8"))
        logged = read_metrics(metrics_path)
        losses = [float(r["loss"]) for r in logged if "loss" in r]
        step = int(state["global_step"])
        loss = last_values(logged).get("train_loss", sum(losses) / len(losses) if losses else None)
    else:
        result = trainer.train(resume_from_checkpoint=resume)
        step, loss = int(result.global_step), float(result.training_loss)
    model = trainer.model
    model.eval()
    # Under `accelerate launch` every process holds the same trained weights (DDP); one writes them.
    adapter = out_dir / "adapter"
    if is_main(trainer):
        adapter = save_adapter(model, staging_dir(adapter))
    return model, TrainOutcome(
        adapter_dir=adapter,
        metrics_path=metrics_path,
        global_step=step,
        resumed_from=resume,
        # no train_loss when the run was resumed past its end and nothing was logged (never a made-up NaN)
        final={**last_values(read_metrics(metrics_path)),
               **({"train_loss": float(loss)} if loss is not None else {})},
        n_examples=n_examples,
        n_tokens=n_tokens,
    )
