"""CLI commands, one module per area; each exposes ``register(app)``.

Registering a command must stay cheap: ``selfalign --help``, ``--version``, usage errors, ``config show`` and
``data validate`` answer without torch, transformers or TRL. So these modules import the heavy stack (the
engine, stages, training, reports) inside the command functions that use it, and the few constants the
option defaults need live here (tests/test_reliability_cli.py checks they match their sources).
"""

import math

import typer

DEFAULT_MODEL = "gemma3-270m"  # = selfalign.engine.defaults.DEFAULT_MODEL, which imports torch
BASE_FEW_SHOT = "base_few_shot"  # = selfalign.evaluate.conditions.BASE_FEW_SHOT (imports the prompt builders)
SCORER_NAMES = (  # = selfalign.judge.SCORERS (registry order), for the help text only
    "ab-pointwise", "ab-pairwise", "likelihood-contrast", "likelihood-contrast-end", "verifiable",
)  # fmt: skip


def finite(value: float | None) -> float | None:
    """Option callback: ``nan`` and ``inf`` parse as floats but are no temperature or threshold."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value}: not a finite number")
    return value
