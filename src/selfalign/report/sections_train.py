"""Training curves: SFT loss; DPO loss and reward margins/accuracies, one series per round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfalign.errors import DataError
from selfalign.report import plots
from selfalign.report.html import img, not_run, note, section
from selfalign.report.load import Run

Series = dict[str, tuple[list[float], list[float]]]


def _metric(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in rows:
        v, step = r.get(key), r.get("step")
        if isinstance(v, int | float) and isinstance(step, int | float) and not isinstance(v, bool):
            xs.append(float(step))
            ys.append(float(v))
    return xs, ys


def _rows(run: Run, path: Path) -> list[dict[str, Any]]:
    rows = run.jsonl(path)
    for i, r in enumerate(rows, start=1):
        if "step" not in r:
            raise DataError(path, i, "step", "missing: every metrics row needs the optimizer step")
    return rows


def training(run: Run) -> str:
    panels: dict[str, Series] = {}
    missing = []
    for prefix, keys in (
        ("sft", ("loss",)),
        ("dpo", ("loss", "rewards/margins", "rewards/accuracies")),
    ):
        stages = run.find(prefix)
        if not stages:
            missing.append(prefix)
        for s in stages:
            path = s.file("metrics", suffix="metrics.jsonl", fallback="metrics.jsonl")
            if path is None:
                missing.append(f"{s.label} (no metrics.jsonl)")
                continue
            rows = _rows(run, path)
            for key in keys:
                xs, ys = _metric(rows, key)
                if xs:
                    panels.setdefault(f"{prefix.upper()} {key}", {})[s.label] = (xs, ys)
    body = ""
    if panels:
        sft = {k: v for k, v in panels.items() if k.startswith("SFT")}
        dpo = {k: v for k, v in panels.items() if k.startswith("DPO")}
        for part in (sft, dpo):
            if part:
                body += img(plots.curves(part), ", ".join(part))
        body += (
            '<p class="muted">Loss per logging step (training loss, not a held-out score). DPO reward margin '
            "= β·(log-ratio of chosen − log-ratio of rejected) against the SFT reference; it should rise and "
            "accuracy (share of pairs with a positive margin) should climb above 0.5.</p>"
        )
    for m in missing:
        body += not_run(m) if " " not in m else note(f"{m}")
    return section("training", "Training curves", body)
