"""Opt-in pre-packed fp32 linear layers for CPU inference (``engine.linear: packed``).

vLLM-CPU runs every dense projection through oneDNN with the weight reordered once into the kernel's blocked
layout (``create_onednn_mm``); torch's ``F.linear`` calls MKL's sgemm on the plain weight every step. On the
2-core AVX-512 VM, 18 layers' worth of Gemma 3 270M projections at decode shapes took 23.7 / 39.8 / 62.5 ms
with ``F.linear`` and 18.0 / 18.2 / 27.3 ms packed at 1 / 8 / 32 rows (``bench/linear.py``,
docs/PERFORMANCE.md). torch ships the same
oneDNN path (``mkldnn._reorder_linear_weight`` + ``mkldnn._linear_pointwise``, what inductor's freezing
uses).

Not the default, because it is not exact: oneDNN sums in another order than MKL, so logits differ in the
last fp32 bits (1.4-2.2e-4 on Gemma-shaped projections); a greedy near-tie can pick another token. The
engine's rule is that every speed change is token-for-token equal (issue 27); this one is a measured
trade, recorded in provenance, that a user chooses. Only inference uses it: with gradients on (training)
the layer runs ``F.linear`` as before, and the output head is left alone (the exact shortlist head needs a
plain fp32 head). A weight changed in place (a merged adapter) is re-packed on the next call.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

ROWS_HINT = 32  # the decode batch the layout is chosen for (vLLM passes 32 too); any row count works


def available() -> bool:
    """Whether this torch build has the oneDNN packed-linear ops."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class PackedForward:
    """One ``nn.Linear``'s ``forward``: a packed oneDNN matmul for inference, ``F.linear`` otherwise."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        self.linear = linear
        self.packed: torch.Tensor | None = None
        self.key: tuple[int, int] | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        w, bias = self.linear.weight, self.linear.bias
        plain = x.dtype != torch.float32 or w.dtype != torch.float32 or x.device.type != "cpu"
        if plain or torch.is_grad_enabled():
            return F.linear(x, w, bias)
        key = (w.data_ptr(), w._version)
        if self.packed is None or key != self.key:
            self.packed = torch.ops.mkldnn._reorder_linear_weight(w.detach(), ROWS_HINT)
            self.key = key
        flat = x.reshape(-1, x.shape[-1])
        b = None if bias is None else bias.detach()
        out = torch.ops.mkldnn._linear_pointwise(flat, self.packed, b, "none", [], "")
        return out.reshape(*x.shape[:-1], out.shape[-1])


def install(model: Any) -> int:
    """Pack every fp32 CPU ``nn.Linear`` of ``model`` but its output head; returns how many."""
    if not available():
        from selfalign.errors import ConfigError

        raise ConfigError("engine.linear: packed needs torch's oneDNN (mkldnn) ops; this torch has none")
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    n = 0
    for module in model.modules():
        if type(module) is not torch.nn.Linear or module is head or isinstance(module.forward, PackedForward):
            continue
        if module.weight.dtype != torch.float32 or module.weight.device.type != "cpu":
            continue
        module.forward = PackedForward(module)  # type: ignore[method-assign]  # instance attribute
        n += 1
    return n
