"""``build_report(run_dir)``: one static, offline ``report.html`` from a run directory, written atomically."""

from __future__ import annotations

from pathlib import Path

from selfalign.atomic import write_text_atomic
from selfalign.report.html import esc, page
from selfalign.report.load import load_run
from selfalign.report.sections_critic import critic
from selfalign.report.sections_eval import evaluation
from selfalign.report.sections_run import gates, header, pipeline, qc
from selfalign.report.sections_steer import steering
from selfalign.report.sections_train import training

NAV = [
    ("header", "Run"),
    ("pipeline", "Pipeline"),
    ("gates", "Gates"),
    ("qc", "QC"),
    ("steering", "Steered sampling"),
    ("critic", "Critic"),
    ("training", "Training"),
    ("evaluation", "Evaluation"),
]


def render(run_dir: Path) -> str:
    """The report's HTML text (no file written)."""
    run = load_run(run_dir)
    model = (run.manifest.get("provenance") or {}).get("model_ref")
    title = "selfalign report" + (f" — {model}" if model else "")
    sections = (header, pipeline, gates, qc, steering, critic, training, evaluation)
    body = "".join(section(run) for section in sections)
    body += f'<p class="muted">Run directory: {esc(run_dir)}</p>'
    return page(title, NAV, body)


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (temp file + rename: a reader never sees half a report)."""
    run_dir = Path(run_dir)
    text = render(run_dir)
    return write_text_atomic(run_dir / "report.html", text)
