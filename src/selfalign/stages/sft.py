"""Stage ``sft``: accepted responses (or a ready SFT file) → a LoRA adapter trained by TRL's SFTTrainer.

Inputs: ``accepted`` (responses the critique stage accepted: used as they are), ``responses`` (+
``judgments`` when the critic ran: selected here) or ``sft`` (JSONL of {prompt, completion}); in a
rejection-sampling round also ``previous`` (the earlier round's ``sft.jsonl``): the round trains a fresh
adapter on the base from all rounds' examples, earlier ones first (ReST-EM style: each round restarts from
the base, so a round's errors do not compound through the adapter).
Outputs under ``out_dir``: ``sft.jsonl`` (the exact training examples), ``adapter/`` (PEFT dir with a model
card), ``metrics.jsonl``, ``tensorboard/``, ``checkpoints/``, optionally ``merged/``, and ``manifest.json``.

The model: training wraps the model in place, so this stage loads its *own* engine from
``ctx.extra["model_spec"]`` (never ``ctx.engine()``, whose model other stages keep using) and drops it before
returning. The pipeline should release its shared engine before a training stage so only one base is held.
"""

from __future__ import annotations

import logging
import time

from pydantic import Field

from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.schemas import SFTExample
from selfalign.errors import ConfigError
from selfalign.stages.base import StageContext, StageResult, finish_training
from selfalign.stages.seeds import SeedList, single_seed
from selfalign.train.config import SFTSettings
from selfalign.train.data import load_accepted, load_sft_file, load_sft_from_responses

log = logging.getLogger("selfalign")


class SFTStageConfig(SFTSettings, SeedList):
    """Config section ``sft``: the SFT hyper-parameters plus how training examples are selected; ``seeds``
    trains one adapter per seed in one run (``stages.seeds``)."""

    min_p_good: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Critic p_good a response needs to be trained on."
    )
    require_confident: bool = Field(
        default=True, description="Also require the critic's verdict to be confident (orders agree, margin)."
    )
    max_examples: int | None = Field(
        default=200,
        ge=1,
        description="Train on at most this many examples, taken round-robin over instructions (each "
        "instruction's first example, then each one's second, ...), so a cut thins the instructions with the "
        "most examples instead of dropping the last ones whole; null = all.",
    )


# Settings that select examples from judged responses; the accepted input was selected by critique already.
SELECTION_KEYS = frozenset({"min_p_good", "require_confident"})


def merge_rounds(earlier: list[SFTExample], new: list[SFTExample]) -> list[SFTExample]:
    """Earlier rounds' examples, then this round's; an exact (prompt, completion) repeat is kept once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in [*earlier, *new]:
        if (e.prompt, e.completion) not in seen:
            seen.add((e.prompt, e.completion))
            out.append(e)
    return out


def cap_round_robin(examples: list[SFTExample], n: int) -> list[SFTExample]:
    """At most ``n`` examples: every prompt's first example (file order), then every prompt's second, ...;
    the kept ones stay in file order. Examples of one instruction share its prompt."""
    rank: dict[str, int] = {}
    order = []
    for i, e in enumerate(examples):
        k = rank.get(e.prompt, 0)
        rank[e.prompt] = k + 1
        order.append((k, i))
    keep = sorted(i for _, i in sorted(order)[:n])
    return [examples[i] for i in keep]


def run(ctx: StageContext) -> StageResult:
    # torch/transformers/TRL load here, not at import: the config class above serves `config show` and --help
    from selfalign.train.common import release_memory
    from selfalign.train.engine import training_engine
    from selfalign.train.sft import train_sft

    cfg = ctx.config
    if not isinstance(cfg, SFTStageConfig):
        cfg = SFTStageConfig.model_validate(cfg.model_dump() if hasattr(cfg, "model_dump") else cfg)
    cfg = single_seed(cfg, "sft")
    started = time.perf_counter()
    if "sft" in ctx.inputs:
        examples, info = load_sft_file(ctx.inputs["sft"])
    elif "accepted" in ctx.inputs:  # the critique stage already decided; never judge twice
        fields = type(cfg).model_fields
        ignored = [k for k in sorted(SELECTION_KEYS) if getattr(cfg, k) != fields[k].default]
        if ignored:  # a setting that would change nothing but the cache key is refused, not dropped
            raise ConfigError(
                f"sft.{ignored[0]}: examples come from the critique stage's accepted.jsonl here, which this "
                "setting does not filter; set critique.accept_top_fraction (or accept_threshold with "
                "accept_top_fraction: null) / critique.require_qc_clean instead"
            )
        examples, info = load_accepted(ctx.inputs["accepted"])
    else:
        examples, info = load_sft_from_responses(
            ctx.inputs["responses"],
            ctx.inputs.get("judgments"),
            min_p_good=cfg.min_p_good,
            require_confident=cfg.require_confident,
        )
    if "previous" in ctx.inputs:
        earlier, info["previous"] = load_sft_file(ctx.inputs["previous"])
        examples = merge_rounds(earlier, examples)
    if cfg.max_examples is not None and len(examples) > cfg.max_examples:
        # Round-robin, not the first N: a file-order cut fell whole on the last instructions (the fifth proof
        # run dropped 20 of 260, every one of its last instructions' examples).
        kept = cap_round_robin(examples, cfg.max_examples)
        n_all, n_kept = len({e.prompt for e in examples}), len({e.prompt for e in kept})
        info["max_examples_cut"] = {"available": len(examples), "dropped": len(examples) - len(kept),
                                    "instructions": n_all, "instructions_kept": n_kept}  # fmt: skip
        log.warning("%s: sft.max_examples %d keeps %d of %d examples, round-robin over %d instructions "
                    "(%d kept)",
                    ctx.name, cfg.max_examples, len(kept), len(examples), n_all, n_kept)  # fmt: skip
        examples = kept
    data_path = ctx.out_dir / "sft.jsonl"
    write_jsonl_atomic(data_path, examples)
    info["trained_on"] = {"path": str(data_path), "examples": len(examples)}

    engine = training_engine(ctx, cfg)
    outcome = train_sft(
        engine, [(e.prompt, e.completion) for e in examples], cfg, ctx.out_dir, data_info=info
    )
    provenance = engine.provenance
    del engine
    release_memory()

    dropped = info.get("max_examples_cut", {}).get("dropped", 0)
    counts = {"examples": len(examples), "max_examples_dropped": dropped}
    if "selection" in info:
        counts.update({k: v for k, v in info["selection"].items() if isinstance(v, int)})
    return finish_training(ctx, cfg, outcome, counts, info, provenance, started, {"sft_data": data_path})
