"""DPO with TRL's DPOTrainer, from the SFT adapter with the SFT policy as reference (or from the base).

How the reference stays the SFT policy without a second model: the SFT adapter is attached to the one base
through ``engine.add_adapter("default", dir)`` and made trainable; TRL 1.16's DPOTrainer, given a PeftModel
and no ``ref_model``, copies the ``default`` adapter into a frozen ``ref`` adapter on the same base and
computes reference log-probs with ``ref`` active. DPO-only-from-base: a fresh LoRA, reference = adapters
disabled = the base. Either way one base is in memory.

The data is pre-tokenised through the guard (same split as SFT and the engine's scoring); the only override
of TRL is ``_prepare_dataset``, which takes our ids as they are instead of re-tokenising text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trl import DPOConfig, DPOTrainer

from selfalign.errors import ConfigError
from selfalign.train import common, progress
from selfalign.train.config import DPOSettings
from selfalign.train.data import DPOPair
from selfalign.train.finite import StopOnNonFinite
from selfalign.train.headcut import label_positions_only
from selfalign.train.outputs import TrainOutcome
from selfalign.train.tokenize import dpo_dataset, pairs_over

if TYPE_CHECKING:
    from selfalign.engine import Engine

log = logging.getLogger("selfalign")

ADAPTER = "default"  # the name TRL's DPOTrainer copies into its frozen "ref" adapter


class GuardedDPOTrainer(DPOTrainer):
    """DPOTrainer that uses guard-tokenised ``prompt_ids/chosen_ids/rejected_ids`` as they are."""

    def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
        if "prompt_ids" not in dataset.column_names:
            raise ValueError(f"{dataset_name}: expected pre-tokenised prompt_ids/chosen_ids/rejected_ids")
        if args.max_length is not None and args.truncation_mode == "keep_start":
            # as TRL does: a prompt that fills max_length leaves no completion token to learn from
            dataset = dataset.filter(lambda row: len(row["prompt_ids"]) < args.max_length)
        return dataset


def build_trainer(
    engine: Engine,
    pairs: Sequence[DPOPair | tuple[str, str, str]],
    settings: DPOSettings,
    out_dir: Path,
    *,
    sft_adapter: Path | None,
    callbacks: Sequence[Any] = (),
) -> GuardedDPOTrainer:
    """A DPOTrainer over ``(prompt, chosen, rejected)``; starts from ``sft_adapter`` when given."""
    if not pairs:
        raise ConfigError("dpo: no preference pairs")
    if engine.adapters:
        raise ConfigError("dpo: the engine already has adapters attached; use a fresh training engine")
    common.check_quant(settings)
    engine.model = common.prepare_base(engine.model, settings, engine.provenance)
    peft_config = None
    if sft_adapter is not None:
        engine.add_adapter(ADAPTER, sft_adapter)  # the only adapter loader: the engine's
        engine.model.set_requires_grad(ADAPTER, requires_grad=True)  # attached frozen for inference; train it
    else:
        peft_config = common.lora_config(settings)
    model = engine.model
    cuda = common.on_cuda(model)
    args = DPOConfig(
        **common.trainer_kwargs(settings, out_dir / "checkpoints", cuda),
        beta=settings.beta,
        loss_type=[settings.loss_type],
        precompute_ref_log_probs=False,  # the ref adapter is live on the same base; nothing to precompute
        dataset_num_proc=None,
    )
    cbs = [common.MetricsJsonl(out_dir / "metrics.jsonl"), StopOnNonFinite(), *callbacks]
    if settings.tensorboard:
        cbs.append(common.tensorboard_callback(out_dir / "tensorboard"))
    model.train()
    label_positions_only()  # the fused LM head skips prompt positions on CPU too (same values, less work)
    trainer = GuardedDPOTrainer(
        model=model,
        args=args,
        train_dataset=dpo_dataset(engine, pairs),
        processing_class=engine.tokenizer,
        peft_config=peft_config,
        callbacks=cbs,
    )
    if sft_adapter is not None and "ref" not in trainer.model.peft_config:
        raise ConfigError("dpo: TRL did not create the frozen 'ref' adapter; the reference would not be SFT")
    return progress.attach(trainer)  # no raw log dicts on stdout: loss goes to the run's view and log


def train_dpo(
    engine: Engine,
    pairs: Sequence[DPOPair | tuple[str, str, str]],
    settings: DPOSettings,
    out_dir: Path,
    *,
    sft_adapter: Path | None = None,
    data_info: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainOutcome:
    """Train DPO; write ``out_dir/adapter`` (+ README.md) and ``metrics.jsonl`` (rewards, margins, ...).

    ``engine`` must be a training-only engine with no adapters: the model is wrapped and trained in place.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(engine, pairs, settings, out_dir, sft_adapter=sft_adapter, callbacks=callbacks)
    tokens = sum(
        len(r["prompt_ids"]) * 2 + len(r["chosen_ids"]) + len(r["rejected_ids"])
        for r in trainer.train_dataset
    )
    cut = pairs_over(trainer.train_dataset, settings.max_length)
    data_info = {**(data_info or {}), "cut_at_max_length": cut}
    if cut:
        log.warning("dpo: %d of %d pairs are longer than max_length %s and are cut", cut, len(pairs),
                    settings.max_length)  # fmt: skip
    model, outcome = common.train_and_save(trainer, out_dir, settings, len(pairs), tokens)
    if settings.merge and "ref" in model.peft_config:
        model.delete_adapter("ref")  # TRL's frozen reference copy must not be merged
    parent = str(sft_adapter) if sft_adapter else None
    outcome.cut_at_max_length = cut
    return common.publish(trainer, model, engine, outcome, settings, out_dir, kind="dpo", data=data_info,
                          parent_adapter=parent)  # fmt: skip
