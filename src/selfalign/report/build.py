"""``build_report(run_dir)``: one static, offline ``report.html`` from a run directory, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from selfalign.report.html import esc, page
from selfalign.report.load import load_run
from selfalign.report.sections_critic import critic
from selfalign.report.sections_eval import evaluation
from selfalign.report.sections_run import gates, header, pipeline, qc
from selfalign.report.sections_train import training

NAV = [
    ("header", "Run"),
    ("pipeline", "Pipeline"),
    ("gates", "Gates"),
    ("qc", "QC"),
    ("critic", "Critic"),
    ("training", "Training"),
    ("evaluation", "Evaluation"),
]


def render(run_dir: Path) -> str:
    """The report's HTML text (no file written)."""
    run = load_run(run_dir)
    model = (run.manifest.get("provenance") or {}).get("model_ref")
    title = "selfalign report" + (f" — {model}" if model else "")
    body = "".join(section(run) for section in (header, pipeline, gates, qc, critic, training, evaluation))
    body += f'<p class="muted">Run directory: {esc(run_dir)}</p>'
    return page(title, NAV, body)


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (temp file + rename: a reader never sees half a report)."""
    run_dir = Path(run_dir)
    text = render(run_dir)
    target = run_dir / "report.html"
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=run_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
