"""Process memory readings for the "one base, adapters switched" claim.

``ru_maxrss`` is the peak over the whole process lifetime, so it can only compare two setups when each
runs in a fresh process (``bench/eval_memory.py`` does that). Inside one run we record the current RSS
at each step and the lifetime peak, labelled as such; on CUDA also the allocator's peak.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

import psutil

_MB = 1024 * 1024


def rss_mb() -> float:
    """Resident set size now, in MiB."""
    return psutil.Process().memory_info().rss / _MB


def peak_rss_mb() -> float:
    """Lifetime peak RSS of this process, in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MB if sys.platform == "darwin" else peak / 1024


def snapshot(label: str) -> dict[str, Any]:
    """Current and lifetime-peak RSS (and CUDA peak allocation where there is a GPU) at ``label``."""
    out: dict[str, Any] = {"at": label, "rss_mb": round(rss_mb(), 1), "peak_rss_mb": round(peak_rss_mb(), 1)}
    import torch  # only here: reading memory must not cost a torch import elsewhere

    if torch.cuda.is_available():
        out["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated() / _MB, 1)
    return out
