"""A run's measured results as Markdown tables (``selfalign report RUN_DIR --markdown FILE``).

For docs and papers: the headline (each policy's seeds pooled against the stronger base, then each seed,
then every tuned condition on its own, on all, unseen-type, seen-type, multi-constraint and, where the items
say so, unseen-wording items), the conditions with IFEval's four numbers, stop rates
and length histograms, pass rate per constraint type, the per-round curve with each round's reference
policy, the rejection sampler's yield per type, and wall time per stage. Everything is read from the run's
files; nothing is recomputed except formatting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from selfalign.constraints import passes_all
from selfalign.errors import DataError
from selfalign.report import pooled, rehead
from selfalign.report.load import Run, load_run, read_object
from selfalign.report.sections_steer import (
    FLUENCY_HEADERS,
    SIDES,
    YIELD_HEADERS,
    fluency_rows,
    not_steered_note,
    steer_metrics,
    yield_rows,
)
from selfalign.stages.seeds import SEED_SUFFIX


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "–" if lo is None or hi is None else f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def _p(x: float | None) -> str:
    return "–" if x is None else f"{x:.2g}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _results(run: Run) -> dict[str, Any]:
    stage = run.first("evaluate")
    path = stage.file("results", suffix="results.json") if stage else None
    if path is None:
        raise DataError(
            run.run_dir, None, "evaluate", "no evaluate/results.json: the run has not evaluated yet"
        )
    return rehead.current(read_object(path), path)


def pooled_section(h: dict[str, Any]) -> str:
    """The lead: each policy's seeds pooled against the stronger base, then each seed's row."""
    rows = pooled.pooled_rows(h)
    if not rows:
        return ""
    lead = pooled.lead_sentence(h)
    return (
        (f"**{lead}**\n\n" if lead else "")
        + md_table(pooled.POOLED_HEAD, rows)
        + "\n\nEach seed against the stronger base:\n\n"
        + md_table(pooled.SEED_HEAD, pooled.seed_rows(h))
        + f"\n\n{pooled.NOTE}\n\nEach condition on its own:\n\n"
    )


def headline_section(res: dict[str, Any]) -> str:
    h = res.get("headline")
    if not h or not h.get("comparisons"):
        return "_No headline comparison in results.json (no tuned condition, or an older run)._"
    rows = []
    for c in h["comparisons"]:
        lift = c["lift"]
        verdict = (
            ("**better**" if lift["estimate"] > 0 else "**worse**") if c["significant"] else "no difference"
        )
        rows.append([c["condition"], c["subset"], c["n"],
                     f"{_pct(c['a']['rate'])} {_ci(c['a']['ci_low'], c['a']['ci_high'])} "
                     f"({pooled.short_base(c['a']['name'])})",
                     f"{_pct(c['b']['rate'])} {_ci(c['b']['ci_low'], c['b']['ci_high'])}",
                     f"{100 * lift['estimate']:+.1f} {_ci(lift['ci_low'], lift['ci_high'])}",
                     f"{c['mcnemar']['b10']}/{c['mcnemar']['b01']}", _p(c["p_value"]), _p(c["p_bh"]),
                     f"{c['cohens_h']:+.2f}", verdict])  # fmt: skip
    head = (f"Stronger base condition on all items: **{h['stronger_base']}**; each subset is compared with "
            "the stronger base on that subset. Pass = every constraint of "
            f"the item passes (prompt level, strict). Test: {h['test']}.\n\n")  # fmt: skip
    if h.get("recomputed"):
        head += f"Headline recomputed {h['recomputed']}.\n\n"
    return head + pooled_section(h) + md_table(
        ["condition", "items", "n", "stronger base % [CI]", "condition % [CI]", "lift pts [CI]",
         "wins/losses", "exact p", "BH q", "Cohen's h", "verdict"],
        rows,
    )  # fmt: skip


def clean_section(res: dict[str, Any]) -> str:
    """The clean-pass headline: what the loop flags take from each condition, then the pooled tables."""
    h = res.get("headline_clean")
    if not isinstance(h, dict) or not h.get("pooled"):
        return "_No clean-pass headline (no tuned condition, or no split/test.jsonl beside the run)._"
    rows = pooled.pooled_rows(h)
    lead = pooled.lead_sentence(h)
    return (
        (f"Recomputed {h['recomputed']}.\n\n" if h.get("recomputed") else "")
        + md_table(pooled.LOST_HEAD, pooled.lost_rows(h))
        + "\n\n" + (f"**{lead}**\n\n" if lead else "")
        + md_table(pooled.POOLED_HEAD, rows)
        + "\n\nEach seed against the stronger base (clean passes):\n\n"
        + md_table(pooled.SEED_HEAD, pooled.seed_rows(h))
        + f"\n\n{pooled.CLEAN_NOTE}"
    )


def conditions_section(res: dict[str, Any]) -> str:
    h = res.get("headline") or {}
    hc = h.get("conditions", {})
    rows = []
    for name, c in res["conditions"].items():
        o = (c.get("verifiable") or {}).get("overall") or {}
        ife = c.get("ifeval") or {}
        four = " / ".join(_pct(ife.get(k)) for k in ("prompt_strict", "instruction_strict", "prompt_loose",
                                                      "instruction_loose"))  # fmt: skip
        rows.append([name, f"{o.get('passed', '–')}/{o.get('n', '–')}",
                     f"{_pct(o.get('rate'))} {_ci(o.get('ci_low'), o.get('ci_high'))}", four,
                     f"{c.get('mean_words', 0):.1f}", _pct(hc.get(name, {}).get("stop_rate"))])  # fmt: skip
    table = md_table(["condition", "passed", "pass % [Wilson CI]",
                      "IFEval prompt-strict / instr-strict / prompt-loose / instr-loose", "mean words",
                      "stop rate %"], rows)  # fmt: skip
    hists = {n: v["length_histogram"] for n, v in hc.items() if v.get("length_histogram")}
    if not hists:
        return table
    bins = list(next(iter(hists.values())))
    hist = md_table(["condition", *[f"{b} words" for b in bins]],
                    [[n, *[str(v.get(b, 0)) for b in bins]] for n, v in hists.items()])  # fmt: skip
    return table + "\n\nAnswer length (words) per condition, all items:\n\n" + hist


def types_section(res: dict[str, Any]) -> str:
    conds = [n for n, c in res["conditions"].items() if c.get("verifiable")]
    types = sorted({t for n in conds for t in res["conditions"][n]["verifiable"]["by_constraint_type"]})
    rows = []
    for t in types:
        row = [t]
        for n in conds:
            r = res["conditions"][n]["verifiable"]["by_constraint_type"].get(t)
            row.append("–" if r is None else f"{r['passed']}/{r['n']} ({_pct(r['rate'])})")
        rows.append(row)
    return md_table(["constraint type (instruction level)", *conds], rows)


def _sampler_rate(run: Run, label: str) -> float | None:
    """The pass rate of the samples a policy was trained from: its responses (SFT rounds) or pairs (DPO)."""
    kind = ("sft", "responses") if label.startswith("sft") else ("dpo", "pairs")
    source = label.replace(*kind, 1)
    m = SEED_SUFFIX.match(source)
    # A seed's round-1 SFT trained on the shared responses; DPO seeds of one SFT share its pairs.
    names = [source, m["group"]] if m else [source]
    st = next((s for n in names for s in run.stages if s.label == n), None)
    metrics = (_stage_manifest(st.dir).get("metrics") or {}) if st else {}
    if "policy_pass_rate" in metrics:
        return metrics["policy_pass_rate"]
    y = metrics.get("yield") or {}
    return y["samples_passed"] / y["samples"] if y.get("samples") else None


def rounds_section(run: Run, res: dict[str, Any]) -> str:
    rows = []
    conds = res["conditions"]
    for st in run.stages:
        label = st.label
        if not (label == "sft" or label.startswith(("sft-", "dpo"))):
            continue
        m = _stage_manifest(st.dir)
        # DPO starts from, and is anchored to, the adapter it was given (see stages/dpo.py); every SFT
        # round trains a fresh adapter on the base.
        sft = label.startswith("sft")
        ref = "– (SFT: none)" if sft else str((m.get("inputs") or {}).get("sft_adapter", "base"))
        o = ((conds.get(label) or {}).get("verifiable") or {}).get("overall") or {}
        counts = st.entry.get("counts") or {}
        size = counts.get("examples", counts.get("pairs", "–"))
        sampler = _pct(_sampler_rate(run, label))
        held = f"{_pct(o.get('rate'))} {_ci(o.get('ci_low'), o.get('ci_high'))}"
        rows.append([label, size, sampler, _short(ref), held])
    base = {n: ((conds.get(n) or {}).get("verifiable") or {}).get("overall") or {}
            for n in ("base_zero_shot", "base_few_shot")}  # fmt: skip
    pre = [[n, "–", "–", "–", f"{_pct(o.get('rate'))} {_ci(o.get('ci_low'), o.get('ci_high'))}"]
           for n, o in base.items() if o]  # fmt: skip
    return md_table(["policy", "trained on (examples / pairs)",
                     "unsteered sampler pass % on its training items", "DPO reference",
                     "held-out pass % [CI]"], pre + rows)  # fmt: skip


def _short(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) > 2 else path


def _stage_manifest(d: Path) -> dict[str, Any]:
    p = d / "manifest.json"
    return read_object(p) if p.is_file() else {}


def yield_section(run: Run) -> str:
    st = run.first("responses")
    y = (_stage_manifest(st.dir).get("metrics") or {}).get("yield") if st else None
    if not y:
        return "_No sampler yield recorded._"
    rows = [[t, f"{r['samples_passed']}/{r['samples']} ({_pct(r['samples_passed'] / r['samples'])})",
             f"{r.get('instructions_with_a_pass', 0)}/{r.get('instructions', 0)}"]
            for t, r in y["per_type"].items()]  # fmt: skip
    head = (
        f"All constrained training instructions, unsteered samples only (steered ones: the steered-sampling "
        f"table): {y['samples_passed']}/{y['samples']} samples pass every "
        f"check; {y['instructions_with_a_pass']}/{y['instructions']} instructions get at least one.\n\n"
    )
    return (
        head
        + md_table(["type", "samples passing every check", "instructions with a pass"], rows)
        + _repairs(run)
    )


def _repairs(run: Run) -> str:
    """What code repair added to the passing samples (critique.repair / repair_draws), if it ran."""
    st = run.first("critique")
    counts = (_stage_manifest(st.dir).get("counts") or {}) if st else {}
    if not counts.get("repaired") and not counts.get("redrawn"):
        return ""
    edits = Counter(counts.get("repaired_edits") or {}) + Counter(counts.get("redrawn_edits") or {})
    listed = ", ".join(f"{t} {n}" for t, n in sorted(edits.items()))
    return (
        f"\n\nRepair (code edits, every check re-run): {counts.get('repaired', 0)} failing samples edited to "
        f"pass their own constraints, {counts.get('redrawn', 0)} clean samples edited to pass freshly drawn "
        f"ones; {counts.get('accepted', 0)} accepted in all. Edits by type: {listed}."
    )


def yield_by_k(records: Sequence[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """``(k, instructions with a passing sample among their first k, instructions)`` for k = 1..max: what
    more samples buy. Past the first pass only instructions without a pass have samples (the extra ones),
    so each row is what rejection sampling with that budget yields."""
    by_ins: dict[str, list[tuple[int, bool]]] = {}
    for r in records:
        if r.get("constraints"):
            sample = int((r.get("gen") or {}).get("sample", 0))
            by_ins.setdefault(str(r["instruction_id"]), []).append(
                (sample, passes_all(r["text"], r["constraints"]))
            )
    most = max((len(v) for v in by_ins.values()), default=0)
    out = []
    for k in range(1, most + 1):
        hit = sum(any(ok for s, ok in v if s < k) for v in by_ins.values())
        out.append((k, hit, len(by_ins)))
    return out


def k_section(run: Run) -> str:
    st = run.first("responses")
    path = st.file("responses", suffix="responses.jsonl") if st else None
    if path is None:
        return "_No responses file._"
    rows = [
        [str(k), f"{hit}/{n} ({_pct(hit / n if n else None)})"] for k, hit, n in yield_by_k(run.jsonl(path))
    ]
    return (
        "Share of constrained training instructions with at least one sample that passes every check, by "
        "the number of samples drawn (rows past the first pass add the extra samples, which only "
        "instructions whose first samples all failed get):\n\n"
        + md_table(["samples k", "instructions with a pass"], rows)
    )


def steer_section(run: Run) -> str:
    """Steered vs unsteered yield, fluency and side-by-side samples (report/sections_steer.py's data)."""
    m = steer_metrics(run)
    if not m:
        return "_No steered samples in this run._"
    skipped = not_steered_note(m)
    parts = [md_table(YIELD_HEADERS, yield_rows(m)), *([skipped] if skipped else []),
             md_table(FLUENCY_HEADERS, fluency_rows(m))]
    for r in m.get("side_by_side") or []:
        verdict = {s: "pass" if r[s + "_passes"] else "fail" for s in SIDES}
        parts.append(f"- *{r['instruction']}* ({', '.join(r['constraints'])})\n"
                     + "\n".join(f"  - {s} ({verdict[s]}): {r[s]!r}" for s in SIDES))
    return "\n\n".join(parts)


def stages_section(run: Run) -> str:
    rows, total = [], 0.0
    for st in run.stages:
        wall = float(st.entry.get("wall_seconds") or 0)
        total += wall
        rows.append(
            [st.label, f"{wall:.0f}", st.entry.get("tokens_generated", "–"), st.entry.get("status", "")]
        )
    rows.append(["**total (stages)**", f"**{total:.0f}** ({total / 60:.1f} min)", "", ""])
    return md_table(["stage", "wall s", "tokens generated", "status"], rows)


def results_markdown(run_dir: Path) -> str:
    run = load_run(run_dir)
    res = _results(run)
    parts = [
        f"## Headline ({res['n_verifiable']} verifiable held-out items)", headline_section(res),
        "## Clean pass: the same items, where a pass must also be an answer (no loop, echo or runaway)",
        clean_section(res),
        "## Conditions", conditions_section(res),
        "## Per round", rounds_section(run, res),
        "## Pass rate per constraint type", types_section(res),
        "## Rejection sampler yield (training instructions, base model, unsteered)", yield_section(run),
        "## Yield by number of samples", k_section(run),
        "## Steered sampling (training instructions)", steer_section(run),
        "## Wall time per stage", stages_section(run),
    ]  # fmt: skip
    return "\n\n".join(parts) + "\n"
