"""Rigorous intervals around the fp32 logits the full output head would compute, without computing them.

The full head computes ``f_j = fl32(w_j . h)`` for every vocabulary row ``w_j``; whatever order its kernel
sums in, ``|f_j - w_j . h| <= gamma_D * sum_i |w_ji h_i|`` with ``gamma_D = D u / (1 - D u)`` (``u = 2^-24``,
Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1), so an interval around the exact product
contains ``f_j`` for *any* fp32 kernel. Two cheaper views of ``w_j . h`` give such intervals:

- :meth:`HeadCopy.approx`: a bf16 copy of the head times a bf16 copy of ``h`` (half the bytes, and this
  CPU's bf16 dot products): every row within a radius ``R`` of the exact product (derived below);
- :meth:`HeadCopy.exact`: fp64 products of a few gathered fp32 rows (exact up to ~1e-13 relative).

Assumption (checked by tests, not provable for a closed kernel): the bf16 matmul accumulates in fp32 or
better, any order, and rounds its result to bf16 (to nearest, or even by truncation: the bound allows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

U32 = 2.0**-24  # fp32 unit roundoff
UB = 2.0**-8  # bf16 unit roundoff (8-bit significand)
SLACK = 1e-6  # relative inflation covering the fp64 arithmetic of the bounds themselves
TINY = 1e-30  # absolute slack: flushed denormals, each far below it


def gamma(n: int, u: float = U32) -> float:
    return n * u / (1 - n * u)


def f32_floor(x: torch.Tensor) -> torch.Tensor:
    """The largest fp32 values <= ``x`` (fp64), so ``a >= floor`` on fp32 ``a`` keeps every ``a >= x``."""
    y = x.float()
    return torch.where(y.double() > x, torch.nextafter(y, torch.full_like(y, float("-inf"))), y)


REL = 2 * UB / (1 - 2 * UB)  # the bf16 result's own rounding, relative to it


@dataclass
class Approx:
    """Approximate logits ``a`` [B, V] (bf16 values, held in fp32) with ``|a - w.h| <= radius + REL |a|``."""

    a: torch.Tensor
    radius: torch.Tensor  # [B] fp64
    top: torch.Tensor  # [B] fp64: max_j a_bj
    fp32_radius: torch.Tensor  # [B] fp64: gamma_D * max_j sum_i |w_ji h_i| (the full head's own rounding)
    big: torch.Tensor  # [B] fp64: >= |w_j . h| and |f_j| for every j (Cauchy-Schwarz)

    def upper(self, x: torch.Tensor) -> torch.Tensor:
        """Upper bound on the full head's value of a token whose approximate logit is at most ``x``."""
        return x + REL * x.abs() + self.radius + self.fp32_radius


class HeadCopy:
    """A bf16 copy of an fp32 head weight [V, D] and the row norms its bounds need (built once)."""

    def __init__(self, weight: torch.Tensor) -> None:
        w = weight.detach()
        self.weight, self.version = w, w._version
        self.wb = w.to(torch.bfloat16)
        self.dim = w.shape[1]
        rn = wn = wbn = torch.zeros((), dtype=torch.float64)
        for part in range(0, w.shape[0], 16384):  # fp64 in slices: no 1.3 GB temporary
            wd, wbd = w[part : part + 16384].double(), self.wb[part : part + 16384].double()
            rn = torch.maximum(rn, (wd - wbd).norm(dim=1).max())
            wn = torch.maximum(wn, wd.norm(dim=1).max())
            wbn = torch.maximum(wbn, wbd.norm(dim=1).max())
        # the largest row norms: Gemma's rows all have norm ~1.03, so one bound per row of h loses little
        self.r_norm, self.w_norm, self.wb_norm = (float(x) * (1 + SLACK) for x in (rn, wn, wbn))

    def current(self, weight: torch.Tensor) -> bool:
        return weight.detach().data_ptr() == self.weight.data_ptr() and weight._version == self.version

    def approx(self, h: torch.Tensor) -> Approx:
        """bf16 logits of fp32 hidden rows ``h`` [B, D] and radii that bound their distance to ``w.h``.

        With ``w~ = bf16(w)``, ``h~ = bf16(h)``, ``r = w - w~``, ``rho = h - h~``:
        ``|w.h - w~.h~| <= |r.h| + |w~.rho| <= |r| |h| + |w~| |rho|`` (Cauchy-Schwarz); fp32 accumulation adds
        ``gamma_D |w~| |h~|``; rounding the sum ``c`` to bf16 adds ``2 UB |c| <= REL |a|`` (``2 UB``:
        truncating would still be inside it). Every pass over [B, V] after the matmul is fp32 (bf16
        elementwise kernels are slow here).
        """
        hd = h.double()
        hb = h.to(torch.bfloat16)
        a = torch.nn.functional.linear(hb, self.wb).float()
        h_norm, rho = hd.norm(dim=1), (hd - hb.double()).norm(dim=1)
        radius = (self.r_norm * h_norm + self.wb_norm * (rho + gamma(self.dim) * hb.double().norm(dim=1))
                  ) * (1 + SLACK) + TINY  # fmt: skip
        fp32_radius = gamma(self.dim) * self.w_norm * h_norm * (1 + SLACK) + TINY
        big = self.w_norm * h_norm * (1 + 1e-5) + 1.0
        return Approx(a, radius, a.max(dim=1).values.double(), fp32_radius, big)

    def exact(self, ids: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For pairs (``ids[k]``, ``h[k]``): ``w.h`` in fp64 and the radius within which the full fp32 head's
        value lies (its rounding, plus the fp64 sum's own, which is ~1e-13 of it)."""
        w = self.weight[ids].double()
        hd = h.double()
        dots = (w * hd).sum(dim=1)
        mags = (w.abs() * hd.abs()).sum(dim=1)
        return dots, gamma(self.dim) * mags * (1 + SLACK) + TINY


_COPIES: dict[int, HeadCopy] = {}


def copy_of(weight: torch.Tensor) -> HeadCopy:
    """The bf16 copy of ``weight``, rebuilt if the weight was replaced or changed in place."""
    key = id(weight)
    copy = _COPIES.get(key)
    if copy is None or not copy.current(weight):
        _COPIES.clear()  # one model at a time: don't keep a stale 336 MB copy around
        copy = _COPIES[key] = HeadCopy(weight)
    return copy
