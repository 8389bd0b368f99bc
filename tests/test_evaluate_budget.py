"""Held-out items no answer can pass within the token budget are refused before anything is generated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfalign import cli
from selfalign.commands import evaluate as evaluate_cmd
from selfalign.constraints import words_needed
from selfalign.errors import DataError
from selfalign.evaluate.budget import check_budget

TINY = "tiny-random-llama"


def _items(tmp_path: Path, *constraint_lists: list[dict]) -> Path:
    path = tmp_path / "heldout.jsonl"
    rows = [{"id": f"i{k}", "instruction": "Describe the sea.", "category": "writing", "constraints": cons}
            for k, cons in enumerate(constraint_lists)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_words_needed_is_the_largest_need_of_any_constraint():
    cons = [{"type": "no_commas", "params": {}}, {"type": "min_words", "params": {"n": 60}}]
    assert words_needed(cons) == (60, 1)
    assert words_needed([{"type": "no_commas", "params": {}}]) == (0, -1)


def test_an_item_needing_more_words_than_tokens_is_named_by_file_line_and_field(tmp_path):
    path = _items(
        tmp_path,
        [{"type": "no_commas"}],
        [{"type": "lowercase"}, {"type": "min_words", "params": {"n": 100}}],
    )
    with pytest.raises(DataError) as err:
        check_budget(path, 96)
    msg = str(err.value)
    assert f"{path}:2: constraints[1]:" in msg
    assert "min_words" in msg and "100" in msg and "evaluate.max_new_tokens is 96" in msg
    check_budget(path, 100)  # 100 tokens can hold 100 words: possible, so not refused


def test_evaluate_refuses_the_file_before_generating(tmp_path, capsys):
    if not any(c.name == "evaluate" for c in cli.app.registered_commands):
        evaluate_cmd.register(cli.app)
    items = _items(tmp_path, [{"type": "min_words", "params": {"n": 20}}])
    out = tmp_path / "eval"
    argv = ["evaluate", "--items", str(items), "--out", str(out), "--model", TINY, "--max-new-tokens", "8"]
    assert cli.run(argv) == 1
    assert "min_words" in capsys.readouterr().err
    assert not (out / "results.json").exists() and not (out / "items.jsonl").exists()
