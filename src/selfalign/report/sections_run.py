"""Report sections about the run itself: header (model, provenance, git, times, cost), pipeline, gates, QC."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from selfalign.report.html import esc, fmt, kv, mark, not_run, note, pct, section, table
from selfalign.report.load import Run


def _when(value: Any) -> str:
    """Epoch seconds become UTC ISO time; strings (already ISO) pass through."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return fmt(value)


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return fmt(value)
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.2f} h"


def _sum(run: Run, key: str) -> float | None:
    vals = [s.entry.get(key) for s in run.stages]
    nums = [v for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(nums) if nums else None


def header(run: Run) -> str:
    info = run.manifest.get("run") or {}
    prov = run.manifest.get("provenance") or {}
    git = info.get("git") or prov.get("git") or {}
    dirty = git.get("dirty")
    commit = fmt(git.get("commit")) + (' <span class="warn">(dirty tree)</span>' if dirty else "")
    weights = prov.get("weights_sha256")
    if isinstance(weights, dict):
        weights = ", ".join(f"{k}: {str(v)[:12]}…" for k, v in weights.items())
    versions = prov.get("versions") or {}
    config_hash = fmt(info.get("config_hash"))
    rows = [
        ("model", fmt(prov.get("model_ref"))),
        ("dtype / quantization / device",
         f"{fmt(prov.get('dtype'))} / {fmt(prov.get('quantization'))} / {fmt(prov.get('device'))}"),
        ("weights sha256", fmt(weights)),
        ("library versions", fmt(versions) if versions else "–"),
        ("selfalign", fmt(info.get("selfalign_version"))),
        ("git commit", commit),
        ("config", f"{fmt(info.get('config_path'))} <span class=\"muted\">hash {config_hash}</span>"),
        ("started / finished", f"{_when(info.get('started'))} → {_when(info.get('finished'))}"),
        ("wall time", _seconds(info.get("wall_seconds") or _sum(run, "wall_seconds"))),
        ("tokens generated", fmt(_sum(run, "tokens_generated"))),
        ("CPU / GPU hours", f"{fmt(_sum(run, 'cpu_hours'))} / {fmt(_sum(run, 'gpu_hours'))}"),
        ("cost", fmt(_sum(run, "cost"))),
    ]  # fmt: skip
    body = kv(rows) + _guards(prov)
    if not run.manifest:
        body = note("no run manifest.json: figures below come from the stage directories alone") + body
    return section("header", "Run", body)


def _guards(prov: dict[str, Any]) -> str:
    out = []
    guards = prov.get("guards")
    if isinstance(guards, dict) and guards:
        out.append("<h3>Contamination guards</h3>" + kv((str(k), fmt(v)) for k, v in guards.items()))
    sentinels = prov.get("sentinels") or []
    if sentinels:
        rows = [
            [f"<pre>{esc(s.get('input'))}</pre>", f"<pre>{esc(s.get('output'))}</pre>",
             fmt(s.get("stop_reason")), fmt(s.get("n_tokens"))]
            for s in sentinels if isinstance(s, dict)
        ]  # fmt: skip
        out.append("<h3>Sentinels (recorded at load, never rewritten)</h3>"
                   + table(["input", "output", "stop", "tokens"], rows))  # fmt: skip
    return "".join(out)


def pipeline(run: Run) -> str:
    if not run.stages:
        return section("pipeline", "Pipeline", note("no stages recorded"))
    rows = []
    for s in run.stages:
        e = s.entry
        status = str(e.get("status", "?"))
        cls = "pass" if status == "done" else "muted" if status == "cached" else "warn"
        rows.append([
            esc(s.label), f'<span class="{cls}">{esc(status)}</span>', fmt(e.get("counts") or {}),
            _seconds(e.get("wall_seconds")), fmt(e.get("tokens_generated")),
            f"{fmt(e.get('cpu_hours'))} / {fmt(e.get('gpu_hours'))}", fmt(e.get("cost")),
        ])  # fmt: skip
    head = ["stage", "status", "counts", "wall", "tokens", "CPU / GPU h", "cost"]
    return section(
        "pipeline",
        "Pipeline",
        table(head, rows)
        + '<p class="muted">cached = reused from an earlier run with the same content hash.</p>',
    )


def gates(run: Run) -> str:
    items = run.manifest.get("gates") or []
    if not items:
        return section("gates", "Quality gates", note("no gates recorded"))
    rows = []
    for g in items:
        passed, over = g.get("passed"), g.get("overridden")
        verdict = mark(bool(passed)) + (' <span class="warn">overridden</span>' if over else "")
        rows.append([esc(g.get("name")), fmt(g.get("value")), fmt(g.get("threshold")), verdict])
    return section("gates", "Quality gates", table(["gate", "value", "threshold", "passed"], rows))


def qc(run: Run) -> str:
    stages = run.find("responses")
    if not stages:
        return section("qc", "Response QC", not_run("responses"))
    parts = []
    for s in stages:
        path = s.file("data", "responses", suffix=".jsonl", fallback="data.jsonl")
        if path is None:
            parts.append(not_run(s.label))
            continue
        recs = run.jsonl(path)
        n = len(recs)
        flags: Counter[str] = Counter()
        any_flag = 0
        for r in recs:
            on = [k for k, v in (r.get("qc") or {}).items() if v is True]
            flags.update(on)
            any_flag += bool(on)
        stops = Counter(str(r.get("stop_reason")) for r in recs)
        keys = sorted({k for r in recs for k in (r.get("qc") or {})})
        rows = [[esc(k), fmt(flags[k]), pct(flags[k] / n if n else None)] for k in keys]
        rows.append(["<b>any flag</b>", fmt(any_flag), pct(any_flag / n if n else None)])
        rows += [[esc(f"stop_reason = {k}"), fmt(v), pct(v / n)] for k, v in sorted(stops.items())]
        parts.append(f"<h3>{esc(s.label)}: {n} responses</h3>" + table(["flag", "count", "rate"], rows))
    return section("qc", "Response QC", "".join(parts))
