"""CPU thread settings, applied once when the engine is imported.

On a small shared CPU, OpenMP's default *active* wait makes every idle worker spin; when another process
holds a core, each parallel region then waits for a descheduled spinner, and a 2-thread forward pass ran 8×
slower than a 1-thread one (measured under load average ~9 on 2 cores; docs/PERFORMANCE.md). A passive wait
policy removes that cliff. It is read when the OpenMP runtime starts, so it only takes effect if it is set
before torch is first imported; an explicit user setting always wins.
"""

from __future__ import annotations

import os
import sys

# True when the policy in the environment is the one the OpenMP runtime will actually use.
WAIT_POLICY_EFFECTIVE = "OMP_WAIT_POLICY" in os.environ or "torch" not in sys.modules
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def physical_cores() -> int:
    """Cores this process may use, counting each physical core once (hyper-threads share its FPU)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return max(1, allowed)
    cores: set[tuple[str, str]] = set()
    phys = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            phys = value.strip()
        elif key.strip() == "core id":
            cores.add((phys, value.strip()))
    return max(1, min(len(cores) or allowed, allowed))


def configure(threads: int | None = None) -> dict[str, object]:
    """Set torch's intra-op threads (default: physical cores, or ``SELFALIGN_THREADS``); return the state."""
    import torch

    env = os.environ.get("SELFALIGN_THREADS")
    n = threads or (int(env) if env else physical_cores())
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return {
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "omp_wait_policy_effective": WAIT_POLICY_EFFECTIVE,
    }
