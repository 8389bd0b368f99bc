"""The stage contract: read dataset(s) → write one dataset (+ files) and a stage manifest.

A stage is a function ``run(ctx: StageContext) -> StageResult``. It never loads a model itself: it gets the
run's one :class:`~selfalign.engine.Engine` from ``ctx.engine()``. Its config is one pydantic section of
the run config (each section feeds exactly one stage). The pipeline decides caching and resume; a stage
only promises to write its outputs atomically under ``ctx.out_dir`` and to be restartable there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from selfalign.atomic import atomic_open

if TYPE_CHECKING:
    from selfalign.engine import Engine


@dataclass
class StageContext:
    name: str
    config: BaseModel
    out_dir: Path
    inputs: dict[str, Path]  # named artifacts from earlier stages, e.g. {"instructions": .../data.jsonl}
    engine: Callable[[], Engine]  # lazily loads the run's single engine
    seed: int = 0
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageResult:
    outputs: dict[str, Path]  # named artifacts this stage produced
    counts: dict[str, int] = field(default_factory=dict)  # examples in / out, kept / dropped ...
    metrics: dict[str, Any] = field(default_factory=dict)  # QC rates, agreement tables, losses ...
    tokens_generated: int = 0
    device: str | None = None  # where a stage with its own model ran (training); None: the run's engine


def write_manifest(out_dir: Path, stage: str, payload: dict[str, Any]) -> Path:
    """Atomically write ``out_dir/manifest.json`` (temp file + rename: never half-written)."""
    target = Path(out_dir) / "manifest.json"
    with atomic_open(target) as f:
        json.dump({"stage": stage, "written_at": time.time(), **payload}, f, indent=2, default=str)
    return target


def finish(
    ctx: StageContext,
    cfg: BaseModel,
    started: float,
    outputs: dict[str, Path],
    counts: dict[str, int],
    metrics: dict[str, Any] | None = None,
    tokens: int = 0,
    *,
    inputs: dict[str, Any] | None = None,
    record_metrics: bool = True,
    **extra: Any,
) -> StageResult:
    """The common end of every stage: its manifest (config, inputs, outputs, counts, metrics, tokens,
    seconds since ``started`` on ``time.perf_counter``, plus ``extra``) and its result.

    ``record_metrics=False`` keeps bulky metrics out of the manifest when an output file already holds them.
    """
    metrics = metrics or {}
    payload = {
        "config": cfg.model_dump(mode="json"),
        "inputs": inputs if inputs is not None else {k: str(v) for k, v in ctx.inputs.items()},
        "outputs": {k: str(v) for k, v in outputs.items()},
        "counts": counts,
        **({"metrics": metrics} if record_metrics else {}),
        "tokens_generated": tokens,
        "seconds": round(time.perf_counter() - started, 2),
        **extra,
    }
    write_manifest(ctx.out_dir, ctx.name, payload)
    return StageResult(outputs=outputs, counts=counts, metrics=metrics, tokens_generated=tokens)


def finish_training(
    ctx: StageContext, cfg: BaseModel, outcome: Any, counts: dict[str, int], info: dict[str, Any],
    provenance: dict[str, Any], started: float, extra_outputs: dict[str, Path] | None = None,
) -> StageResult:
    """The common end of the sft and dpo stages: the adapter's outputs, the manifest, the result."""
    outputs = {**(extra_outputs or {}), "adapter": outcome.adapter_dir, "metrics": outcome.metrics_path}
    if outcome.merged_dir is not None:
        outputs["merged"] = outcome.merged_dir
    counts = {**counts, "tokens": outcome.n_tokens, "steps": outcome.global_step,
              "cut_at_max_length": outcome.cut_at_max_length}  # fmt: skip
    metrics = {**outcome.final, "resumed_from": outcome.resumed_from}
    model = {k: provenance.get(k) for k in ("model_ref", "dtype", "quantization", "device")}
    # ``data`` keeps the selection record (the pipeline's manifest replaces ``inputs`` with the input paths).
    result = finish(ctx, cfg, started, outputs, counts, metrics, inputs=info, model=model, data=info)
    result.device = str(provenance.get("device") or "") or None  # booked to this device, not the shared one
    return result
