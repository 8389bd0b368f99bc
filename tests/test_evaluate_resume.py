"""A killed evaluation resumes at the condition it was in (evaluate/store.py), with the outputs of a run that
was never interrupted; a kept condition made under other settings is regenerated, never reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfalign.engine import Engine, ModelSpec
from selfalign.stages.base import StageContext
from selfalign.stages.evaluate import EvaluateConfig, run

ROWS = [
    {"id": "a", "instruction": "Name three fruits. Do not use any commas.", "category": "lists",
     "constraints": [{"type": "no_commas", "params": {}}]},
    {"id": "b", "instruction": "Describe the sea in lowercase.", "category": "writing",
     "constraints": [{"type": "lowercase", "params": {}}]},
]  # fmt: skip


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))


def _run(engine: Engine, tmp_path: Path, out: str, max_new_tokens: int = 6) -> Path:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    cfg = EvaluateConfig(max_new_tokens=max_new_tokens, critic=None, n_boot=50, batch_size=2)
    run(StageContext("evaluate", cfg, tmp_path / out, {"heldout": items}, lambda: engine, progress=False))
    return tmp_path / out


def _generating(engine: Engine, monkeypatch, kill_at: int | None) -> list[int]:
    calls: list[int] = []
    real = type(engine).generate.__get__(engine)  # the class's, not an earlier patch's

    def generate(prompts, params, **kw):
        calls.append(len(prompts))
        if len(calls) == kill_at:
            raise Killed
        return real(prompts, params, **kw)

    monkeypatch.setattr(engine, "generate", generate)
    return calls


def test_a_killed_evaluation_resumes_at_the_condition_it_was_in(engine, tmp_path, monkeypatch):
    clean = _run(engine, tmp_path, "clean")
    calls = _generating(engine, monkeypatch, kill_at=2)  # killed while answering base_few_shot
    with pytest.raises(Killed):
        _run(engine, tmp_path, "resumed")
    assert [p.name for p in (tmp_path / "resumed" / "conditions").iterdir()] == ["base_zero_shot.jsonl"]
    calls.clear()
    resumed = _run(engine, tmp_path, "resumed")
    assert calls == [2]  # only base_few_shot is generated again
    assert (resumed / "items.jsonl").read_text() == (clean / "items.jsonl").read_text()
    kept = sorted(p.name for p in (resumed / "conditions").iterdir())  # kept for a later --reuse
    assert kept == ["base_few_shot.jsonl", "base_zero_shot.jsonl"]


def test_a_kept_condition_from_other_settings_is_regenerated(engine, tmp_path, monkeypatch):
    _generating(engine, monkeypatch, kill_at=2)
    with pytest.raises(Killed):
        _run(engine, tmp_path, "out", max_new_tokens=6)
    again = _generating(engine, monkeypatch, kill_at=None)
    _run(engine, tmp_path, "out", max_new_tokens=4)  # another budget: the kept answers do not apply
    assert again == [2, 2]
