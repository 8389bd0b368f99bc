"""Stage ``dpo``: preference pairs → a LoRA adapter trained by TRL's DPOTrainer.

Inputs: ``pairs`` (JSONL of {prompt, chosen, rejected, margin, source}) and, unless ``from_sft`` is false,
``sft_adapter`` (the SFT stage's ``adapter`` dir): DPO then continues the SFT adapter with the SFT policy as
reference (a frozen copy of the adapter on the same base, no second model). With ``from_sft: false`` a
fresh LoRA is trained from the base with the base as reference.
Outputs under ``out_dir``: ``adapter/`` (+ README.md), ``metrics.jsonl`` (loss, lr, grad norm, reward
margins and accuracies), ``tensorboard/``, ``checkpoints/``, optionally ``merged/``, ``manifest.json``.
Like ``sft``, it loads its own engine from ``ctx.extra["model_spec"]`` and drops it before returning.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pydantic import Field

from selfalign.errors import ConfigError
from selfalign.stages.base import StageContext, StageResult, finish_training
from selfalign.stages.seeds import SeedList, single_seed
from selfalign.train.config import DPOSettings
from selfalign.train.data import load_pairs, pair_triples

log = logging.getLogger("selfalign")


class DPOStageConfig(DPOSettings, SeedList):
    """Config section ``dpo``: the DPO hyper-parameters plus where training starts; ``seeds`` trains one
    adapter per seed in one run, seed i's from seed i's SFT (``stages.seeds``)."""

    from_sft: bool = Field(
        default=True,
        description="Start from the SFT adapter (reference = SFT policy); false = from the base.",
    )
    min_margin: float = Field(default=0.0, description="Use only pairs whose critic margin is at least this.")
    max_pairs: int | None = Field(
        default=200, ge=1, description="Train on at most this many pairs; null = all."
    )


def run(ctx: StageContext) -> StageResult:
    # torch/transformers/TRL load here, not at import: the config class above serves `config show` and --help
    from selfalign.train.common import release_memory
    from selfalign.train.dpo import train_dpo
    from selfalign.train.engine import training_engine

    cfg = ctx.config
    if not isinstance(cfg, DPOStageConfig):
        cfg = DPOStageConfig.model_validate(cfg.model_dump() if hasattr(cfg, "model_dump") else cfg)
    cfg = single_seed(cfg, "dpo")
    started = time.perf_counter()
    sft_adapter: Path | None = None
    if cfg.from_sft:
        if "sft_adapter" not in ctx.inputs:
            raise ConfigError(
                "dpo.from_sft is true but no sft_adapter input was given (or set from_sft: false)"
            )
        sft_adapter = Path(ctx.inputs["sft_adapter"])
    pairs, info = load_pairs(ctx.inputs["pairs"], min_margin=cfg.min_margin)
    dropped = max(0, len(pairs) - cfg.max_pairs) if cfg.max_pairs is not None else 0
    if dropped:
        info["max_pairs_cut"] = {"available": len(pairs), "dropped": dropped}
        log.warning("%s: dpo.max_pairs %d keeps the first %d of %d pairs (%d dropped: the last in file "
                    "order)", ctx.name, cfg.max_pairs, cfg.max_pairs, len(pairs), dropped)  # fmt: skip
        pairs = pairs[: cfg.max_pairs]
    start = str(sft_adapter) if sft_adapter else "base"
    # The policy training starts from is also the frozen reference (see train/dpo.py); said explicitly so a
    # report can show which policy each round was measured against.
    info["trained_on"] = {"pairs": len(pairs), "start": start, "reference": start}

    engine = training_engine(ctx, cfg)
    outcome = train_dpo(
        engine,
        pair_triples(pairs),
        cfg,
        ctx.out_dir,
        sft_adapter=sft_adapter,
        data_info=info,
    )
    provenance = engine.provenance
    del engine
    release_memory()

    return finish_training(ctx, cfg, outcome, {"pairs": len(pairs), "max_pairs_dropped": dropped}, info,
                           provenance, started)  # fmt: skip
