"""The static report: builds from full and partial runs, escapes all data, links nothing external, writes
atomically, and names the file when an artifact is malformed."""

from __future__ import annotations

import base64
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer

import selfalign.cli
from selfalign.commands.report import register
from selfalign.errors import DataError
from selfalign.report import build_report, plots
from selfalign.report.samples import N_SAMPLES, pick
from test_report_fixtures import CONDITIONS, XSS, make_run

PAYLOAD = " ".join(XSS)


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    p = Tags()
    p.feed(html)
    return p.tags


PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def fast_plots(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Skip PNG encoding (~0.5 s a figure on this CPU) where a test is not about the plots; count them."""
    made: list[str] = []

    def stub(fig: object) -> str:
        plots.plt.close(fig)
        made.append("png")
        return PIXEL

    monkeypatch.setattr(plots, "to_data_uri", stub)
    return made


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    run = make_run(tmp_path_factory.mktemp("full"), payload=PAYLOAD)
    return build_report(run).read_text("utf-8")


def test_payloads_are_escaped_never_live(full_report: str) -> None:
    tags = parse(full_report)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed")]
    assert not [(t, a) for t, a in tags for k in a if k.startswith("on")]
    for tag, attrs in tags:
        if tag == "img":
            assert (attrs["src"] or "").startswith("data:image/png;base64,")
    # the payload text is shown (escaped), not dropped: instruction, outputs, category-free places too
    assert full_report.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in full_report
    assert "<script" not in full_report.lower()


def test_no_external_urls(full_report: str) -> None:
    # attributes as a browser parses them (escaped payload text like "img src=x" is text, not markup)
    refs = [v or "" for _, attrs in parse(full_report) for k, v in attrs.items() if k in ("src", "href")]
    assert refs, "expected images and nav anchors"
    assert all(r.startswith(("data:", "#")) for r in refs), [
        r for r in refs if not r.startswith(("data:", "#"))
    ]
    assert "http://" not in full_report and "https://" not in full_report
    assert "@import" not in full_report and "url(" not in full_report


def test_plots_are_real_pngs(full_report: str) -> None:
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', full_report)
    # margins, pair margins, SFT curve, DPO curves, pass rates, open-ended, categories, lengths
    assert len(uris) >= 8
    for u in uris:
        assert base64.b64decode(u).startswith(b"\x89PNG\r\n\x1a\n")


def test_full_report_sections_and_numbers(tmp_path: Path, fast_plots: list[str]) -> None:
    run = make_run(tmp_path)
    html = build_report(run).read_text("utf-8")
    res = json.loads((run / "evaluate" / "results.json").read_text("utf-8"))
    for name in CONDITIONS:
        o = res["conditions"][name]["verifiable"]["overall"]
        assert f"{o['passed']}/{o['n']} = {100 * o['rate']:.1f}%" in html
    dpo = res["conditions"]["dpo"]["verifiable"]["overall"]["vs_baseline"]
    assert f"{dpo['cohens_h']:+.2f}" in html
    for stage in (
        "instructions",
        "responses",
        "split",
        "critique",
        "sft",
        "pairs",
        "dpo",
        "dpo-r2",
        "evaluate",
    ):
        assert f"<td>{stage}</td>" in html
    assert "stage not run" not in html
    assert "overridden" in html and "dirty tree" in html
    assert re.search(
        r"<td>ab-critic\s*</td><td>debiased</td><td>relevance</td><td[^>]*>8</td><td[^>]*>6</td>", html
    )
    assert "<h4>priors</h4>" in html and "critic used: <b>ab-critic</b>" in html
    assert "(12 pairs)" in html  # every pair, code-checked ones included (the critic's counts exclude them)
    # QC: 3 of 30 responses are runaway (i % 10 == 0)
    assert re.search(r"<td>runaway</td><td[^>]*>3</td><td[^>]*>10\.0%</td>", html)
    assert html.count('class="sample"') == N_SAMPLES
    assert (
        len(fast_plots) >= 8
    )  # margins, pair margins, SFT, DPO, pass rates, open-ended, categories, lengths


def test_samples_show_every_condition_with_checks(tmp_path: Path, fast_plots: list[str]) -> None:
    run = make_run(tmp_path)
    html = build_report(run).read_text("utf-8")
    first = html.split('class="sample"')[1]
    for c in ["instruction", *CONDITIONS]:
        assert f"<th>{c}</th>" in first
    assert "bullet_count" in html and "✓" in html and "✗" in html
    assert "P(better than base_few_shot)" in html  # open-ended items show the critic


def test_sample_pick_is_deterministic_and_stratified(tmp_path: Path) -> None:
    items = [
        json.loads(x) for x in (make_run(tmp_path) / "evaluate" / "items.jsonl").read_text().splitlines()
    ]
    chosen = pick(items)
    assert len(chosen) == N_SAMPLES == len(set(chosen))
    cats = {r["id"]: r["category"] for r in items}
    per_cat = [sum(cats[i] == c for i in chosen) for c in sorted(set(cats.values()))]
    assert max(per_cat) - min(per_cat) <= 1
    assert pick(list(reversed(items))) == chosen
    assert chosen != sorted(chosen)[:N_SAMPLES] or len(set(cats.values())) == 1


def test_partial_run_says_stage_not_run(tmp_path: Path) -> None:
    run = make_run(tmp_path, full=False, payload=PAYLOAD)
    html = build_report(run).read_text("utf-8")
    for stage in ("critique", "evaluate", "sft", "dpo"):
        assert f"stage not run: {stage}" in html
    assert "<td>responses</td>" in html and "any flag" in html
    assert not [t for t, _ in parse(html) if t == "script"]


def test_listed_but_missing_artifact_degrades(tmp_path: Path, fast_plots: list[str]) -> None:
    run = make_run(tmp_path)
    (run / "evaluate" / "results.json").unlink()
    (run / "critique" / "judgments.jsonl").unlink()
    html = build_report(run).read_text("utf-8")
    assert "stage not run: evaluate (no results.json)" in html
    assert "critique: no judgments file" in html


def test_no_manifest_uses_stage_dirs(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "responses").mkdir(parents=True)
    (run / "responses" / "manifest.json").write_text(json.dumps({"stage": "responses"}), "utf-8")
    rec = {"id": "r", "text": "hi <b>x</b>", "stop_reason": "eos", "qc": {"empty": True}}
    (run / "responses" / "data.jsonl").write_text(json.dumps(rec) + "\n", "utf-8")
    html = build_report(run).read_text("utf-8")
    assert "no run manifest.json" in html
    assert re.search(r"<td>empty</td><td[^>]*>1</td><td[^>]*>100\.0%</td>", html)


def test_malformed_results_names_the_file(tmp_path: Path, fast_plots: list[str]) -> None:
    run = make_run(tmp_path)
    path = run / "evaluate" / "results.json"
    path.write_text('{"baseline": "base_few_shot", "conditions": ', "utf-8")
    with pytest.raises(DataError, match=r"evaluate/results\.json:1: malformed JSON"):
        build_report(run)
    path.write_text(json.dumps({"baseline": "b", "conditions": {"b": {"verifiable": {"overall": {}}}}}))
    with pytest.raises(DataError, match=r"results\.json: conditions\.b\.verifiable\.overall"):
        build_report(run)


def test_malformed_metrics_names_file_and_line(tmp_path: Path, fast_plots: list[str]) -> None:
    run = make_run(tmp_path)
    with (run / "sft" / "metrics.jsonl").open("a") as f:
        f.write("{oops\n")
    with pytest.raises(DataError, match=r"sft/metrics\.jsonl:21: malformed JSON"):
        build_report(run)


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(tmp_path, full=False)
    target = run / "report.html"
    target.write_text("previous report", "utf-8")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        build_report(run)
    assert target.read_text("utf-8") == "previous report"
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".report-")) == []
    monkeypatch.undo()
    # a render error (malformed artifact) also leaves the old report in place
    (run / "responses" / "data.jsonl").write_text("not json\n", "utf-8")
    with pytest.raises(DataError):
        build_report(run)
    assert target.read_text("utf-8") == "previous report"


def test_cli_report_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = typer.Typer()
    app.callback()(lambda: None)  # keep it a group so the command is addressed by name
    register(app)
    monkeypatch.setattr(selfalign.cli, "app", app)
    run = make_run(tmp_path, full=False)
    assert selfalign.cli.run(["report", str(run)]) == 0
    assert (run / "report.html").is_file()
    assert "report.html" in capsys.readouterr().out
    (run / "manifest.json").write_text("[1, 2", "utf-8")
    assert selfalign.cli.run(["report", str(run)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json" in err[0]
