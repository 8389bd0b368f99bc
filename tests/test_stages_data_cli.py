"""``selfalign data validate|inspect`` and the stage commands' --help, through ``selfalign.cli.run``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer

from selfalign import cli
from selfalign.commands import data

GOOD = {"id": "i1", "text": "Name three rivers.", "category": "question_answering", "source": "seed",
        "prompt": None, "gen": None}  # fmt: skip


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    # A fresh app with this area registered, so the global one is untouched (cli._AREAS may add it later).
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    data.register(app)
    monkeypatch.setattr(cli, "app", app)
    return cli.run


def _lines(path: Path, *lines: str | bytes) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ((json.dumps(GOOD), '{"id": "i2", "text": '), r"bad\.jsonl:2: malformed JSON"),
        ((json.dumps({k: v for k, v in GOOD.items() if k != "category"}),), r"bad\.jsonl:1: category: "),
        ((json.dumps({**GOOD, "text": 5}),), r"bad\.jsonl:1: text: "),
        ((), r"bad\.jsonl: empty file"),
        ((json.dumps(GOOD), b'{"id": "\xff"}'), r"bad\.jsonl:2: not valid UTF-8"),
        ((json.dumps(GOOD), json.dumps(GOOD)), r"bad\.jsonl:2: id: duplicate id"),
    ],
)
def test_validate_errors_are_one_line_with_location(run, tmp_path: Path, capsys, content, expected) -> None:
    path = _lines(tmp_path / "bad.jsonl", *content)
    assert run(["data", "validate", str(path), "--kind", "instructions"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ") and re.search(expected, err), err


def test_validate_ok_and_kinds(run, tmp_path: Path, capsys) -> None:
    path = _lines(tmp_path / "ok.jsonl", json.dumps(GOOD))
    assert run(["data", "validate", str(path), "--kind", "instructions"]) == 0
    assert "1 instructions records" in capsys.readouterr().out
    assert run(["data", "validate", str(path), "--kind", "responses"]) == 1
    assert run(["data", "validate", str(path), "--kind", "bogus"]) == 1
    assert "--kind 'bogus'" in capsys.readouterr().err


def test_validate_max_errors_lists_each_bad_line(run, tmp_path: Path, capsys) -> None:
    bad = json.dumps({**GOOD, "category": 1})
    path = _lines(tmp_path / "bad.jsonl", bad, json.dumps({**GOOD, "id": "i2"}), bad.replace("i1", "i3"))
    assert run(["data", "validate", str(path), "--kind", "instructions", "--max-errors", "5"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [e.split(": ")[1].rsplit(":", 1)[-1] for e in err] == ["1", "3"]


def test_inspect_json(run, tmp_path: Path, capsys) -> None:
    path = _lines(
        tmp_path / "ok.jsonl", json.dumps(GOOD), json.dumps({**GOOD, "id": "i2", "text": "Name 3 rivers"})
    )
    assert run(["data", "inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["count"] == 2 and summary["duplicates"]["clusters"] == 1


@pytest.mark.parametrize("command", ["instructions", "responses", "split"])
def test_stage_commands_have_help(run, capsys, command: str) -> None:
    assert run([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--out" in out and "--seed" in out
