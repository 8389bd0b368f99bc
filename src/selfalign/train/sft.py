"""SFT with TRL's SFTTrainer on pre-tokenised prompt/completion data: loss on completion tokens only.

Read top to bottom: tokenise through the guard → LoRA config → SFTConfig → SFTTrainer → train (resuming from
the newest checkpoint) → save adapter, card, optional merged model. No loss or loop of our own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trl import SFTConfig, SFTTrainer

from selfalign.errors import ConfigError
from selfalign.train import common, progress
from selfalign.train.config import SFTSettings
from selfalign.train.finite import StopOnNonFinite
from selfalign.train.headcut import label_positions_only
from selfalign.train.outputs import TrainOutcome
from selfalign.train.tokenize import rows_over, sft_dataset

if TYPE_CHECKING:
    from selfalign.engine import Engine

log = logging.getLogger("selfalign")


def build_trainer(
    engine: Engine,
    examples: Sequence[tuple[str, str]],
    settings: SFTSettings,
    out_dir: Path,
    callbacks: Sequence[Any] = (),
) -> SFTTrainer:
    """An SFTTrainer over ``(prompt, completion)`` pairs that wraps ``engine.model`` with a fresh LoRA."""
    if not examples:
        raise ConfigError("sft: no training examples")
    if engine.adapters:
        raise ConfigError("sft: the engine already has adapters attached; SFT trains a fresh one on the base")
    common.check_quant(settings)
    model = common.prepare_base(engine.model, settings, engine.provenance)
    cuda = common.on_cuda(model)
    kwargs = common.trainer_kwargs(settings, out_dir / "checkpoints", cuda)
    if settings.padding_free and not settings.packing:
        kwargs["max_length"] = None  # TRL does not cut padding-free rows; sft_dataset below already did
    args = SFTConfig(
        **kwargs,
        completion_only_loss=True,  # our rows carry completion_mask; TRL turns it into -100 prompt labels
        packing=settings.packing,
        packing_strategy="bfd",
        padding_free=settings.padding_free,
        dataset_num_proc=None,
        shuffle_dataset=False,  # the Trainer's sampler already shuffles with the seed
    )
    cbs = [common.MetricsJsonl(out_dir / "metrics.jsonl"), StopOnNonFinite(), *callbacks]
    if settings.tensorboard:
        cbs.append(common.tensorboard_callback(out_dir / "tensorboard"))
    model.train()
    label_positions_only()  # the fused LM head skips prompt positions on CPU too (same loss, less compute)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=sft_dataset(engine, examples, settings.max_length),
        processing_class=engine.tokenizer,
        peft_config=common.lora_config(settings),
        callbacks=cbs,
    )
    return progress.attach(trainer)  # no raw log dicts on stdout: loss goes to the run's view and log


def train_sft(
    engine: Engine,
    examples: Sequence[tuple[str, str]],
    settings: SFTSettings,
    out_dir: Path,
    *,
    data_info: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainOutcome:
    """Train a LoRA adapter on ``examples``; write ``out_dir/adapter`` (+ README.md), ``metrics.jsonl``.

    ``engine.model`` is wrapped in place (LoRA layers injected): use a training-only engine and drop it after.
    An interrupted run resumes from the newest ``out_dir/checkpoints/checkpoint-*`` when ``settings.resume``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cut = rows_over(engine, examples, settings.max_length)
    data_info = {**(data_info or {}), "cut_at_max_length": cut}
    if cut:
        log.warning("sft: %d of %d examples are longer than max_length %s and are cut (their answers lose "
                    "their ending)", cut, len(examples), settings.max_length)  # fmt: skip
    trainer = build_trainer(engine, examples, settings, out_dir, callbacks)
    model, outcome = common.train_and_save(
        trainer, out_dir, settings, len(examples), sum(len(r) for r in trainer.train_dataset["input_ids"])
    )
    outcome.cut_at_max_length = cut
    return common.publish(trainer, model, engine, outcome, settings, out_dir, kind="sft", data=data_info)
