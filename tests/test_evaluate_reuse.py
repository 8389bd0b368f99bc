"""An evaluation reuses the answers an earlier one kept (``evaluate.reuse`` / ``--reuse``) only where they
would be generated identically: same code, weights, adapter files, prompts and decoding. An ablation that
trains new adapters then spends no time on the base conditions, and its results equal a fresh evaluation's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from selfalign.engine import Engine, ModelSpec
from selfalign.errors import ConfigError
from selfalign.stages.base import StageContext
from selfalign.stages.evaluate import EvaluateConfig, run
from test_engine_adapters import make_adapter
from test_evaluate_resume import ROWS  # the same two items


@pytest.fixture(scope="module")
def adapters(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {"one": make_adapter(None, root / "one", seed=1), "two": make_adapter(None, root / "two", seed=2)}


@pytest.fixture()
def engine() -> Engine:
    return Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))  # adapters attach per test


def _run(engine, tmp_path: Path, out: str, adapters=None, reuse=(), max_new_tokens: int = 6) -> dict:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    cfg = EvaluateConfig(max_new_tokens=max_new_tokens, critic=None, n_boot=50, batch_size=2,
                         adapters={k: str(v) for k, v in (adapters or {}).items()},
                         reuse=[str(tmp_path / r) for r in reuse])  # fmt: skip
    run(StageContext("evaluate", cfg, tmp_path / out, {"heldout": items}, lambda: engine, progress=False))
    return json.loads((tmp_path / out / "results.json").read_text())


def _count_generate(engine: Engine, monkeypatch) -> list[str | None]:
    calls: list[str | None] = []
    real = type(engine).generate.__get__(engine)

    def generate(prompts, params, **kw):
        calls.append(kw.get("adapter"))
        return real(prompts, params, **kw)

    monkeypatch.setattr(engine, "generate", generate)
    return calls


def _records(tmp_path: Path, out: str) -> list[str]:
    return (tmp_path / out / "items.jsonl").read_text().splitlines()


def test_an_ablation_takes_the_base_answers_of_an_earlier_evaluation(engine, adapters, tmp_path, monkeypatch):
    _run(engine, tmp_path, "first")  # the base conditions only, as a finished run's evaluation holds them
    fresh = _run(engine, tmp_path, "fresh", adapters={"sft": adapters["one"]})
    calls = _count_generate(engine, monkeypatch)
    reused = _run(engine, tmp_path, "reused", adapters={"sft": adapters["one"]}, reuse=["first"])
    assert calls == ["sft"]  # only the new adapter answered
    assert sorted(reused["reused"]) == ["base_few_shot", "base_zero_shot"]
    assert _records(tmp_path, "reused") == _records(tmp_path, "fresh")  # as if generated here
    assert reused["headline"] == fresh["headline"]
    manifest = json.loads((tmp_path / "reused" / "manifest.json").read_text())
    assert manifest["counts"]["reused"] == 2
    made = manifest["tokens_generated"]
    assert 0 < made < json.loads((tmp_path / "fresh" / "manifest.json").read_text())["tokens_generated"]

    calls.clear()  # the same command again: everything is read back, and still said to be reused
    again = _run(engine, tmp_path, "reused", adapters={"sft": adapters["one"]}, reuse=["first"])
    assert calls == [] and again["reused"] == reused["reused"]
    assert json.loads((tmp_path / "reused" / "manifest.json").read_text())["tokens_generated"] == 0


def test_a_foreign_or_broken_file_in_a_reuse_dir_is_not_used(engine, tmp_path, monkeypatch):
    _run(engine, tmp_path, "first")
    kept = tmp_path / "first" / "conditions"
    (kept / "junk.jsonl").write_bytes(b"\xff\xfe not text")
    (kept / "dir.jsonl").mkdir()
    lines = (kept / "base_few_shot.jsonl").read_text().splitlines()
    (kept / "base_few_shot.jsonl").write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    calls = _count_generate(engine, monkeypatch)
    res = _run(engine, tmp_path, "second", reuse=["first"])
    assert calls == [None] and sorted(res["reused"]) == ["base_zero_shot"]  # few-shot generated again


def test_an_adapter_is_matched_by_its_weights_not_its_name_or_card(engine, adapters, tmp_path, monkeypatch):
    _run(engine, tmp_path, "first", adapters={"sft": adapters["one"]})
    copy = tmp_path / "copied"
    shutil.copytree(adapters["one"], copy)
    (copy / "README.md").write_text("trained in another run dir\n")  # the card names where; the weights agree
    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))  # without 'sft' attached
    calls = _count_generate(engine, monkeypatch)
    res = _run(engine, tmp_path, "again", adapters={"policy": copy, "other": adapters["two"]},
               reuse=["first"])  # fmt: skip
    assert calls == ["other"]  # 'policy' is 'sft' under another name; 'other' has other weights
    assert sorted(res["reused"]) == ["base_few_shot", "base_zero_shot", "policy"]


def test_answers_made_under_other_settings_are_not_reused(engine, tmp_path, monkeypatch):
    _run(engine, tmp_path, "first", max_new_tokens=6)
    calls = _count_generate(engine, monkeypatch)
    res = _run(engine, tmp_path, "shorter", reuse=["first"], max_new_tokens=4)
    assert calls == [None, None] and res["reused"] == {}


def test_a_dir_without_kept_answers_is_refused_by_name(engine, tmp_path):
    (tmp_path / "old").mkdir()
    with pytest.raises(ConfigError, match=r"evaluate\.reuse: .*old has no conditions/"):
        _run(engine, tmp_path, "out", reuse=["old"])
    assert not (tmp_path / "out" / "results.json").exists()
