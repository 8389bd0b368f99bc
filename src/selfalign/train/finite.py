"""A diverged training run stops in one line and publishes nothing.

A NaN or inf loss (a beta or learning rate far too large, a bad row) gives NaN gradients; the optimizer step
then writes NaN into every LoRA weight, and the adapter generates pad tokens while the run reports success.
:class:`StopOnNonFinite` checks the clipped gradients *before* each optimizer step (``on_pre_optimizer_step``:
the weights and the last checkpoint are still finite) and every logged loss and grad norm (transformers'
``logging_nan_inf_filter`` is switched off in ``common.trainer_kwargs``, or a NaN loss would be logged as the
average of the earlier ones). :func:`refuse_nonfinite` is the last check before an adapter is published.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from selfalign.engine.adapters import nonfinite, read_tensors
from selfalign.errors import SelfalignError

WATCHED = ("loss", "grad_norm")
HINT = "lower the learning rate (or dpo beta) or check the data; nothing was published"


class TrainingDiverged(SelfalignError):
    """A training step produced a non-finite loss or gradient."""


class StopOnNonFinite(TrainerCallback):
    """Raise :class:`TrainingDiverged` at the first non-finite gradient or logged loss / grad norm."""

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model = kwargs.get("model")
        if model is None:
            return
        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        if grads and not bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)).item()):
            raise TrainingDiverged(
                f"training diverged at step {state.global_step + 1}: the gradient is NaN or inf "
                f"(stopped before the optimizer step); {HINT}"
            )

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        for key in WATCHED:
            value = (logs or {}).get(key)
            if isinstance(value, int | float) and not math.isfinite(value):
                step = state.global_step
                raise TrainingDiverged(f"training diverged at step {step}: {key} is {value}; {HINT}")


def refuse_nonfinite(staging: Path, kind: str) -> None:
    """Before publishing ``staging`` (a saved adapter): any NaN/inf tensor removes it and stops the run."""
    bad = nonfinite(read_tensors(staging, kind))
    if bad is not None:
        shutil.rmtree(staging, ignore_errors=True)
        raise TrainingDiverged(f"{kind}: the trained adapter's tensor {bad} holds NaN or inf; {HINT}")
