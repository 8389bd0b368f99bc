"""Score only the positions a loss reads, on every device.

TRL 1.16's SFT and DPO trainers compute log-probs with a fused, chunked LM head
(``trl.trainer.utils.add_fused_lm_head``). On CUDA/XPU it runs the head only on positions whose label is not
-100; elsewhere on every position, zeroing the prompt's afterwards, because on Neuron-like devices a changing
row count recompiles the kernel. A CPU recompiles nothing, and on a 262k vocabulary the head is most of a
small model's compute (Gemma 3 270M: 168M of its 268M weights). The choice is one private call
(``_use_triton``); :func:`label_positions_only` rebinds that name inside ``trl.trainer.utils`` alone (the
kernels keep theirs, so a CPU still runs the torch path). Scoring a subset changes no value: the head
scores each position on its own. Guarded by TRL's version: on any other the patch is not applied and a
warning says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

log = logging.getLogger("selfalign")

TESTED_TRL = "1.16.0"


def label_positions_only() -> bool:
    """Make TRL's fused LM head skip positions without a label on CPU too; True when it now does."""
    import trl
    import trl.trainer.utils as tu

    current: Callable[[torch.device], bool] | None = getattr(tu, "_use_triton", None)
    if getattr(current, "selfalign_cut", False):
        return True
    if trl.__version__ != TESTED_TRL or current is None:
        log.warning("trl %s (tested: %s): the LM head scores every position on CPU (slower, same values)",
                    trl.__version__, TESTED_TRL)  # fmt: skip
        return False
    original = current

    def compact(device: torch.device) -> bool:
        return device.type == "cpu" or original(device)

    compact.selfalign_cut = True  # type: ignore[attr-defined]
    tu._use_triton = compact  # type: ignore[attr-defined]  # read only by add_fused_lm_head's compact choice
    return True

