"""`selfalign judge` and `selfalign pairs` on the tiny random model, through a fresh Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from selfalign.commands import judge as judge_cmd
from selfalign.data.schemas import validate_file


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    judge_cmd.register(a)
    return a


def _write(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.mark.parametrize("command", ["judge", "pairs"])
def test_every_option_has_help(app: typer.Typer, command: str) -> None:
    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    undocumented = [p.name for p in cmd.params if not getattr(p, "help", None) and p.name != "help"]
    assert not undocumented, undocumented
    res = CliRunner().invoke(app, [command, "--help"])
    assert res.exit_code == 0 and "--model" in res.output


def test_judge_writes_one_valid_judgment_per_response(app: typer.Typer, tmp_path: Path) -> None:
    recs = [
        {"id": "a", "instruction": "Name a fruit.", "text": "Apple."},
        {"id": "b", "instruction": "Say hi in lowercase.", "response": "HELLO",
         "constraints": [{"type": "lowercase", "params": {}}]},
        {"id": "c", "instruction": "Describe rain.", "text": "Water falls from clouds."},
    ]  # fmt: skip
    src, out = _write(tmp_path / "r.jsonl", recs), tmp_path / "j.jsonl"
    args = [
        "judge",
        str(src),
        "-o",
        str(out),
        "--model",
        "tiny-random-llama",
        "--scorer",
        "likelihood-contrast",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    validate_file(out, "judgment")
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["item_ids"] for r in rows] == [["a"], ["b"], ["c"]]
    assert [r["scorer"] for r in rows] == ["likelihood-contrast", "verifiable", "likelihood-contrast"]
    assert rows[1]["p_good"] == 0.0  # "HELLO" fails the lowercase check


def test_judge_rejects_pairwise_scorer_and_bad_records(app: typer.Typer, tmp_path: Path) -> None:
    src = _write(tmp_path / "r.jsonl", [{"id": "a", "instruction": "x", "text": "y"}])
    res = CliRunner().invoke(
        app, ["judge", str(src), "--model", "tiny-random-llama", "--scorer", "ab-pairwise"]
    )
    assert res.exit_code != 0
    bad = _write(tmp_path / "bad.jsonl", [{"id": "a", "text": "y"}])
    res = CliRunner().invoke(app, ["judge", str(bad), "--model", "tiny-random-llama"])
    assert res.exit_code != 0 and "instruction" in str(res.exception)


def test_calibrate_only_prints_the_table(app: typer.Typer) -> None:
    args = ["judge", "--calibrate-only", "--model", "tiny-random-llama",
            "--scorer", "likelihood-contrast-end", "--calibration-per-kind", "1"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "| likelihood-contrast-end" in res.output and "truncated" in res.output


def test_pairs_command_writes_model_pairs_with_sources(app: typer.Typer, tmp_path: Path) -> None:
    recs = [{"id": f"i{k}", "text": t} for k, t in enumerate(["Describe the sea.", "Name three colors."])]
    src, out = _write(tmp_path / "i.jsonl", recs), tmp_path / "pairs"
    args = ["pairs", str(src), "-o", str(out), "--model", "tiny-random-llama",
            "--critic", "likelihood-contrast", "--n-samples", "3",
            "--max-new-tokens", "6", "--margin-threshold", "-1e9", "--calibration-per-kind", "1"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    validate_file(out / "pairs.jsonl", "pair")
    pairs = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 2 and {p["source"] for p in pairs} == {"critic:likelihood-contrast"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["samples"] == 6
