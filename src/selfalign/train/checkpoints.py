"""Resume only from a complete Trainer checkpoint; an incomplete one is discarded with a note.

transformers writes ``checkpoint-N/`` in place: weights (and the tokenizer), optimizer, scheduler, RNG state,
and ``trainer_state.json`` last. A crash or full disk in between leaves a directory that
``get_last_checkpoint`` would pick and ``Trainer.train`` would then fail on, for good. So a checkpoint counts
only if its trainer state parses and the files resuming needs are present.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

log = logging.getLogger("selfalign")

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
WEIGHTS = ("adapter_model.safetensors", "model.safetensors", "adapter_model.bin", "pytorch_model.bin")
REQUIRED = ("optimizer.pt", "scheduler.pt")


def problem(ckpt: Path) -> str | None:
    """Why ``ckpt`` cannot be resumed from, or None when it is complete."""
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no trainer_state.json (the save did not finish)"
    except (OSError, ValueError) as e:
        return f"trainer_state.json unreadable ({e})"
    if not isinstance(state, dict) or "global_step" not in state:
        return "trainer_state.json has no global_step"
    if not any((ckpt / w).is_file() for w in WEIGHTS):
        return "no weights file"
    missing = [f for f in REQUIRED if not (ckpt / f).is_file()]
    return f"missing {', '.join(missing)}" if missing else None


def last_complete(checkpoints: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` under ``checkpoints``; incomplete ones are deleted (logged)."""
    if not checkpoints.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), p) for p in checkpoints.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))
    )
    best = None
    for _, ckpt in found:
        why = problem(ckpt)
        if why is None:
            best = ckpt
            continue
        log.warning("discarding incomplete checkpoint %s: %s", ckpt, why)
        shutil.rmtree(ckpt)
    return best


def finished(ckpt: Path) -> bool:
    """Whether ``ckpt`` was saved at the run's last step (its trainer state's ``global_step >= max_steps``).

    transformers 5.23 does not check the step budget before the first step of a resumed run: resuming from
    the final checkpoint trains one step more than an uninterrupted run. The caller loads it instead.
    """
    state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    max_steps = int(state.get("max_steps") or 0)
    return max_steps > 0 and int(state["global_step"]) >= max_steps
