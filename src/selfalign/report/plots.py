"""Matplotlib figures (Agg backend, no display) rendered to inline ``data:image/png;base64`` URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # headless and deterministic; must precede pyplot
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def to_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    # Dropping the Software chunk keeps the bytes a function of the data alone.
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def palette(names: Sequence[str]) -> dict[str, str]:
    """One fixed colour per name (a condition keeps its colour across every plot of the report)."""
    return {n: COLORS[i % len(COLORS)] for i, n in enumerate(names)}


def _color(colors: Mapping[str, str] | None, name: str, k: int) -> str:
    return (colors or {}).get(name, COLORS[k % len(COLORS)])


def rate_bars(names: Sequence[str], rates: Sequence[float], lows: Sequence[float], highs: Sequence[float],
              title: str, colors: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """One bar per condition with asymmetric (Wilson) error bars, in percent."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(names)), 3.2))
    x = range(len(names))
    err = [[100 * (r - lo) for r, lo in zip(rates, lows, strict=True)],
           [100 * (hi - r) for r, hi in zip(rates, highs, strict=True)]]  # fmt: skip
    ax.bar(
        x,
        [100 * r for r in rates],
        yerr=err,
        capsize=5,
        color=[_color(colors, n, k) for k, n in enumerate(names)],
    )
    ax.set_xticks(list(x), list(names), rotation=15)
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return to_data_uri(fig)


def grouped_bars(groups: Sequence[str], series: Mapping[str, Sequence[float | None]], title: str,
                 colors: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """Bars per group (category), one colour per series (condition); missing values are left out."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(groups) * max(1, len(series)) / 2 + 2), 3.4))
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [i + k * width for i, v in enumerate(values) if v is not None]
        ys = [100 * v for v in values if v is not None]
        ax.bar(xs, ys, width=width, label=name, color=_color(colors, name, k))
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(groups))], list(groups), rotation=20)
    ax.set_ylim(0, 100)
    ax.set_ylabel("pass %")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=min(4, len(series)))
    ax.grid(axis="y", alpha=0.3)
    return to_data_uri(fig)


def histogram(series: Mapping[str, Sequence[float]], title: str, xlabel: str, bins: int = 30,
              colors: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """Overlaid step histograms sharing bin edges, so shapes compare directly."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    values = [v for vs in series.values() for v in vs]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)] if hi > lo else bins
    for k, (name, vs) in enumerate(series.items()):
        if vs:
            ax.hist(vs, bins=edges, histtype="step", linewidth=1.8, label=f"{name} (n={len(vs)})",
                    color=_color(colors, name, k))  # fmt: skip
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if len(series) > 1 or any(series.values()):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return to_data_uri(fig)


def curves(panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]) -> str:
    """Side-by-side line plots: panel title → series name → (steps, values)."""
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.0), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=False):
        for k, (name, (xs, ys)) in enumerate(series.items()):
            ax.plot(xs, ys, marker="." if len(xs) < 40 else None, label=name, color=COLORS[k % len(COLORS)])
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return to_data_uri(fig)
