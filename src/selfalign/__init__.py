"""selfalign: bootstrap an instruction follower from a base model, using only the model itself."""

import os

# Before torch is imported anywhere: OpenMP's default busy-wait made forward passes ~8x slower whenever
# another process shared the cores (measured, docs/PERFORMANCE.md). A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
