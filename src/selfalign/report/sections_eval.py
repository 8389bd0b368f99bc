"""Evaluation section, from ``results.json`` (``selfalign.evaluate.summary``) and ``items.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfalign.errors import DataError
from selfalign.evaluate.table import verdict
from selfalign.report import plots, pooled, rehead
from selfalign.report.html import esc, fmt, img, not_run, pct, section, table
from selfalign.report.load import Run, read_object
from selfalign.report.samples import samples


def _ci(lo: float | None, hi: float | None) -> str:
    return "–" if lo is None or hi is None else f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def _level(res: dict[str, Any]) -> str:
    conf = res.get("confidence")
    return f"{100 * conf:g}%" if isinstance(conf, int | float) else "95%"


def check_results(path: Path) -> dict[str, Any]:
    """Read results.json and check the shape the report relies on; a bad file is an error naming it."""
    res = read_object(path)
    conds = res.get("conditions")
    if not isinstance(conds, dict) or not conds:
        raise DataError(path, None, "conditions", "expected a non-empty object of condition results")
    if not isinstance(res.get("baseline"), str):
        raise DataError(path, None, "baseline", "expected the baseline condition's name")
    for name, c in conds.items():
        if not isinstance(c, dict) or "verifiable" not in c:
            raise DataError(path, None, f"conditions.{name}", "expected an object with 'verifiable'")
        ver = c["verifiable"]
        if ver is not None:
            o = ver.get("overall") if isinstance(ver, dict) else None
            if not isinstance(o, dict) or not all(
                k in o for k in ("n", "passed", "rate", "ci_low", "ci_high")
            ):
                raise DataError(path, None, f"conditions.{name}.verifiable.overall",
                                "expected n, passed, rate, ci_low, ci_high")  # fmt: skip
    return res


def _open_cell(opn: dict[str, Any]) -> str:
    counts = f"W{opn['wins']}/L{opn['losses']}/T{opn['ties']}, sign p={fmt(opn['sign_test_p'])}"
    return f"{pct(opn['win_rate'])} {_ci(opn['ci_low'], opn['ci_high'])} ({counts})"


def _summary_rows(res: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, c in res["conditions"].items():
        ver, opn = c.get("verifiable"), c.get("open_ended")
        row = [esc(name)]
        if ver is None:
            row += ["–"] * 7
        else:
            o = ver["overall"]
            vs = o.get("vs_baseline")
            row += [f"{fmt(o['passed'])}/{fmt(o['n'])} = {pct(o['rate'])}", _ci(o["ci_low"], o["ci_high"])]
            if vs is None:
                row += ["–", "–", "–", "–", "baseline"]
            else:
                lift = vs["lift"]
                row += [
                    f"{100 * lift['estimate']:+.1f} {_ci(lift['ci_low'], lift['ci_high'])}",
                    fmt(vs.get("p_value")),
                    fmt(vs.get("p_bh")),
                    f"{vs['cohens_h']:+.2f}",
                    esc(verdict(vs)),
                ]
        row.append("–" if opn is None else _open_cell(opn))
        row.append(f"{c.get('mean_words', 0):.1f}")
        rows.append(row)
    return rows


def _category_part(res: dict[str, Any]) -> str:
    conds = {n: c["verifiable"] for n, c in res["conditions"].items() if c.get("verifiable")}
    cats = sorted({cat for v in conds.values() for cat in v.get("categories", {})})
    if not cats:
        return ""
    series = {n: [v["categories"].get(cat, {}).get("rate") for cat in cats] for n, v in conds.items()}
    colors = plots.palette(list(res["conditions"]))
    rows = []
    for cat in cats:
        row = [esc(cat)]
        for v in conds.values():
            c = v["categories"].get(cat)
            if c is None:
                row.append("–")
                continue
            vs = c.get("vs_baseline")
            extra = (
                ""
                if vs is None
                else f' <span class="muted">q={fmt(vs.get("p_bh"))} {esc(verdict(vs))}</span>'
            )
            row.append(f"{c['passed']}/{c['n']} {pct(c['rate'])} {_ci(c['ci_low'], c['ci_high'])}{extra}")
        rows.append(row)
    types = sorted({t for v in conds.values() for t in v.get("by_constraint_type", {})})
    trows = [[esc(t), *(pct(v.get("by_constraint_type", {}).get(t, {}).get("rate")) for v in conds.values())]
             for t in types]  # fmt: skip
    return (
        "<h3>By category (verifiable items)</h3>"
        + img(plots.grouped_bars(cats, series, "pass rate by category", colors), "pass rate by category")
        + table(["category", *conds], rows)
        + '<p class="muted">q = Benjamini–Hochberg adjusted McNemar p within the condition.</p>'
        + (
            "<h3>By constraint type (share of checks passed)</h3>" + table(["type", *conds], trows)
            if trows
            else ""
        )
    )


def _plots(res: dict[str, Any]) -> str:
    out = ""
    colors = plots.palette(list(res["conditions"]))
    ver = [(n, c["verifiable"]["overall"]) for n, c in res["conditions"].items() if c.get("verifiable")]
    if ver:
        uri = plots.rate_bars([n for n, _ in ver], [o["rate"] or 0.0 for _, o in ver],
                              [o["ci_low"] for _, o in ver], [o["ci_high"] for _, o in ver],
                              f"verifiable pass rate (Wilson {_level(res)} CI)", colors)  # fmt: skip
        out += img(uri, "verifiable pass rate per condition")
    opn = [(n, c["open_ended"]) for n, c in res["conditions"].items() if c.get("open_ended")]
    if opn:
        uri = plots.rate_bars([n for n, _ in opn], [o["win_rate"] for _, o in opn],
                              [o["ci_low"] for _, o in opn], [o["ci_high"] for _, o in opn],
                              f"open-ended: P(better than {res['baseline']})", colors)  # fmt: skip
        out += img(uri, "open-ended win rate per condition")
    return out


def _lengths(items: list[dict[str, Any]], order: list[str]) -> str:
    words: dict[str, list[float]] = {n: [] for n in order}
    for r in items:
        words.setdefault(str(r.get("condition")), []).append(float(len(str(r.get("output", "")).split())))
    if not any(words.values()):
        return ""
    return (
        "<h3>Response length per condition</h3>"
        + img(
            plots.histogram(words, "output length", "words", colors=plots.palette(order)), "length histograms"
        )
        + '<p class="muted">Shown so a length shift is visible next to any score shift; length is never '
        "used to score.</p>"
    )


def _pooled(h: dict[str, Any]) -> str:
    """The lead: each policy's seeds pooled against the stronger base, then each seed's own row."""
    rows = pooled.pooled_rows(h)
    if not rows:
        return ""
    lead = pooled.lead_sentence(h)
    return (
        f"<h3>Headline: seeds pooled against the stronger base condition on each subset (on all items: "
        f"{esc(h['stronger_base'])})</h3>"
        + (f"<p><b>{esc(lead)}</b></p>" if lead else "")
        + (f'<p class="muted">Recomputed {esc(h["recomputed"])}.</p>' if h.get("recomputed") else "")
        + table(pooled.POOLED_HEAD, [[esc(c) for c in r] for r in rows])
        + "<h3>Each seed against the stronger base</h3>"
        + table(pooled.SEED_HEAD, [[esc(c) for c in r] for r in pooled.seed_rows(h)])
        + f'<p class="muted">{esc(pooled.NOTE)}</p>'
    )


def _headline(res: dict[str, Any]) -> str:
    """The pooled lead, then every tuned condition against the stronger base, per subset."""
    h = res.get("headline")
    if not isinstance(h, dict) or not h.get("comparisons"):
        return ""
    rows = []
    for c in h["comparisons"]:
        lift = c["lift"]
        rows.append([esc(c["condition"]), esc(c["subset"]), fmt(c["n"]),
                     f"{pct(c['a']['rate'])} {_ci(c['a']['ci_low'], c['a']['ci_high'])} "
                     f"({esc(pooled.short_base(c['a']['name']))})",
                     f"{pct(c['b']['rate'])} {_ci(c['b']['ci_low'], c['b']['ci_high'])}",
                     f"{100 * lift['estimate']:+.1f} {_ci(lift['ci_low'], lift['ci_high'])}",
                     fmt(c["p_value"]), fmt(c["p_bh"]), f"{c['cohens_h']:+.2f}",
                     esc(verdict({**c, "significant": c["significant"]}))])  # fmt: skip
    stops = [[esc(n), pct(v.get("stop_rate"))] for n, v in h.get("conditions", {}).items()]
    head = ["condition", "items", "n", "stronger base", "condition", "lift pp [CI]", "exact p", "BH q",
            "Cohen's h", "verdict"]  # fmt: skip
    return (
        _pooled(h)
        + "<h3>Each condition on its own against the stronger base condition on each subset</h3>"
        + table(head, rows)
        + '<p class="muted">unseen_types: every constraint of the item is of a type never used in training; '
        "multi_constraint: two or three constraints; unseen_wording: constraints phrased in words training "
        "never used. Exact McNemar; BH over every condition × subset.</p>"
        + "<h3>Stop rate (EOS or the end marker before the token limit)</h3>"
        + table(["condition", "stop rate"], stops)
    )


def _clean(res: dict[str, Any]) -> str:
    """The clean-pass headline (evaluate.clean): passes the loop flags take away, then the pooled lead."""
    h = res.get("headline_clean")
    if not isinstance(h, dict) or not h.get("pooled"):
        return ""
    lead = pooled.lead_sentence(h)
    return (
        "<h3>Clean pass: a pass must also be an answer (no loop, echo of the instruction or runaway)</h3>"
        + (f'<p class="muted">Recomputed {esc(h["recomputed"])}.</p>' if h.get("recomputed") else "")
        + table(pooled.LOST_HEAD, [[esc(c) for c in r] for r in pooled.lost_rows(h)])
        + (f"<p><b>{esc(lead)}</b></p>" if lead else "")
        + table(pooled.POOLED_HEAD, [[esc(c) for c in r] for r in pooled.pooled_rows(h)])
        + f'<p class="muted">{esc(pooled.CLEAN_NOTE)}</p>'
    )


def evaluation(run: Run) -> str:
    stage = run.find("evaluate")
    if not stage:
        return section("evaluation", "Evaluation", not_run("evaluate"))
    s = stage[-1]  # the last evaluation covers every round
    rpath = s.file("results", suffix="results.json", fallback="results.json")
    if rpath is None:
        return section("evaluation", "Evaluation", not_run(f"{s.label} (no results.json)"))
    res = rehead.current(check_results(rpath), rpath)
    head = ["condition", "verifiable pass", f"{_level(res)} CI", "lift pp [CI]", "p (McNemar)", "p (BH)",
            "Cohen's h", "verdict", "open-ended win rate", "mean words"]  # fmt: skip
    body = (
        f"<p>{fmt(res.get('n_items'))} held-out items ({fmt(res.get('n_verifiable'))} verifiable, "
        f"{fmt(res.get('n_open_ended'))} open-ended), every condition on the same items; baseline "
        f"<b>{esc(res['baseline'])}</b>.</p>"
        + _headline(res)
        + _clean(res)
        + table(head, _summary_rows(res))
        + '<p class="muted">Verifiable items are scored by code checks only. Lift = paired bootstrap '
        "difference in pass rate vs the baseline (percentage points); p = paired exact/corrected McNemar; "
        "BH = Benjamini–Hochberg across the compared conditions; h = signed Cohen's h (0.2 small, 0.5 "
        "medium, 0.8 large). Open-ended items: the critic's P(better than baseline), both orders, with a "
        "sign test.</p>" + _plots(res) + _category_part(res)
    )
    stops = res.get("stop_reasons")
    if isinstance(stops, dict) and stops:
        keys = sorted({k for v in stops.values() for k in v})
        body += "<h3>Why generation stopped</h3>" + table(
            ["condition", *keys], [[esc(n), *(fmt(v.get(k)) for k in keys)] for n, v in stops.items()]
        )
    ipath = s.file("items", suffix="items.jsonl", fallback="items.jsonl")
    if ipath is not None:
        items = run.jsonl(ipath)
        body += _lengths(items, list(res["conditions"])) + samples(run, items, list(res["conditions"]))
    return section("evaluation", "Evaluation", body)
