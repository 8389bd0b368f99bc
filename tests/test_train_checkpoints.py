"""Checkpoints count only when complete: a save cut short (disk full, kill) is discarded, never resumed."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from transformers import Trainer

from selfalign.engine import Engine, ModelSpec
from selfalign.prompts.format import get_format
from selfalign.train.checkpoints import last_complete, problem
from selfalign.train.config import SFTSettings
from selfalign.train.outputs import TrainOutcome
from selfalign.train.sft import train_sft

F = get_format()
TINY = ModelSpec(ref="tiny-random-llama", sentinels=False)
EXAMPLES = [(F.prompt(f"Question {i}?"), F.completion(f"answer number {i}")) for i in range(4)]
SETTINGS = SFTSettings(max_steps=4, batch_size=2, save_steps=2, warmup_ratio=0.0, tensorboard=False,
                       lora={"dropout": 0.0})  # fmt: skip


def _checkpoint(root: Path, step: int, *, state: str | None = '{"global_step": 1}', skip: str = "") -> Path:
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"):
        if name != skip:
            (d / name).write_bytes(b"x")
    if state is not None:
        (d / "trainer_state.json").write_text(state)
    return d


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"state": None}, "no trainer_state.json"),
        ({"state": '{"global_st'}, "unreadable"),  # torn by a kill mid-write
        ({"state": "[]"}, "no global_step"),
        ({"skip": "adapter_model.safetensors"}, "no weights file"),
        ({"skip": "optimizer.pt"}, "missing optimizer.pt"),
    ],
)
def test_each_kind_of_incomplete_checkpoint_is_named(tmp_path, kwargs, why):
    assert why in (problem(_checkpoint(tmp_path, 3, **kwargs)) or "")


def test_newest_complete_checkpoint_wins_and_incomplete_ones_are_deleted_with_a_note(tmp_path, caplog):
    _checkpoint(tmp_path, 2)
    good = _checkpoint(tmp_path, 10)  # numeric order, not text order
    bad = _checkpoint(tmp_path, 12, state=None)
    with caplog.at_level(logging.WARNING, logger="selfalign"):
        assert last_complete(tmp_path) == good
    assert not bad.exists()
    assert "discarding incomplete checkpoint" in caplog.text and "checkpoint-12" in caplog.text


def test_no_checkpoints_dir_means_a_fresh_start(tmp_path):
    assert last_complete(tmp_path / "absent") is None


def _train(out: Path) -> TrainOutcome:
    torch.manual_seed(0)
    return train_sft(Engine.load(TINY), EXAMPLES, SETTINGS, out)


def test_disk_full_while_saving_a_checkpoint_then_resume_gives_the_clean_adapter(tmp_path, monkeypatch):
    clean = _train(tmp_path / "clean").adapter_dir
    calls = {"n": 0}
    save_rng = Trainer._save_rng_state

    def full_on_second(self, output_dir):  # the case: the 2nd checkpoint's save dies half-way
        calls["n"] += 1
        if calls["n"] == 2:
            raise Exception("No space left on device (os error 28)")  # as the Rust tokenizer raises it
        return save_rng(self, output_dir)

    monkeypatch.setattr(Trainer, "_save_rng_state", full_on_second)
    out = tmp_path / "faulted"
    with pytest.raises(Exception, match="os error 28"):
        _train(out)
    assert problem(out / "checkpoints" / "checkpoint-4") is not None  # the half-written one is there
    assert not (out / "adapter").exists()
    monkeypatch.setattr(Trainer, "_save_rng_state", save_rng)
    outcome = _train(out)
    assert outcome.resumed_from is not None and outcome.resumed_from.endswith("checkpoint-2")
    assert problem(out / "checkpoints" / "checkpoint-4") is None  # saved again, completely
    resumed = outcome.adapter_dir
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        assert (resumed / name).read_bytes() == (clean / name).read_bytes(), name
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no staging left behind
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)


def test_killed_after_the_last_checkpoint_resumes_without_an_extra_step(tmp_path):
    """transformers 5.23 trains step max_steps + 1 when resumed from a final checkpoint that is not at an
    epoch's end (the kill-anywhere CI failure: a DPO adapter one step past the clean one)."""
    settings = SETTINGS.model_copy(update={"max_steps": 3, "save_steps": 1})  # ends mid-epoch

    def train(out: Path) -> TrainOutcome:
        torch.manual_seed(0)
        return train_sft(Engine.load(TINY), EXAMPLES, settings, out)

    clean = train(tmp_path / "clean").adapter_dir
    out = tmp_path / "killed"
    train(out)
    shutil.rmtree(out / "adapter")  # a kill after the last checkpoint, before publish
    outcome = train(out)
    assert outcome.resumed_from is not None and outcome.resumed_from.endswith("checkpoint-3")
    assert outcome.global_step == 3
    assert not (out / "checkpoints" / "checkpoint-4").exists()
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 3
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        assert (outcome.adapter_dir / name).read_bytes() == (clean / name).read_bytes(), name
