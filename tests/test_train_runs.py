"""End-to-end on a tiny random model: SFT teaches a response, DPO raises the chosen-rejected margin with the
SFT policy as reference, adapters reload through the engine, an interrupted run resumes."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import TrainerCallback

from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.prompts.format import get_format
from selfalign.train.config import DPOSettings, SFTSettings
from selfalign.train.data import DPOPair
from selfalign.train.dpo import train_dpo
from selfalign.train.sft import train_sft
from selfalign.train.tokenize import dpo_dataset, pairs_over, rows_over, split_ids

F = get_format()
TINY = ModelSpec(ref="tiny-random-llama", sentinels=False)
RESPONSES = [
    "banana split is tasty", "the sky is blue today", "seven plus one is eight", "cats like warm milk",
    "rivers flow to the sea", "paris is in france", "bees make sweet honey", "snow falls in winter",
]  # fmt: skip
EXAMPLES = [(F.prompt(f"Question {i}?"), F.completion(r)) for i, r in enumerate(RESPONSES)]
PAIRS = [
    (F.prompt(f"Q {i}?"), F.completion(f"good answer {i}"), F.completion(f"bad reply {i} no"))
    for i in range(4)
]
GREEDY = GenParams(max_new_tokens=12, temperature=0.0, stop=F.stop)
FAST = {"warmup_ratio": 0.0, "lr_scheduler": "constant", "tensorboard": False}


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("sft")
    engine = Engine.load(TINY)
    before = [g.text.strip() for g in engine.generate([p for p, _ in EXAMPLES], GREEDY)]
    settings = SFTSettings(max_steps=15, batch_size=8, learning_rate=8e-3, lora={"dropout": 0.0}, **FAST)
    outcome = train_sft(engine, EXAMPLES, settings, out, data_info={"test": True})
    return before, outcome


@pytest.fixture(scope="module")
def reloaded(sft_run):
    engine = Engine.load(TINY)
    engine.add_adapter("sft", sft_run[1].adapter_dir)
    return engine


def test_sft_makes_greedy_decoding_reproduce_a_training_response(sft_run, reloaded):
    before, _ = sft_run
    after = [g.text.strip() for g in reloaded.generate([p for p, _ in EXAMPLES], GREEDY, adapter="sft")]
    base = [g.text.strip() for g in reloaded.generate([p for p, _ in EXAMPLES], GREEDY, adapter=None)]
    assert base == before, "the adapter leaked into the base"
    learned = [i for i, r in enumerate(RESPONSES) if after[i] == r and before[i] != r]
    assert learned, f"no training response reproduced: {after}"


def test_sft_outputs_card_and_curves(sft_run):
    _, outcome = sft_run
    files = {p.name for p in outcome.adapter_dir.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= files
    card = (outcome.adapter_dir / "README.md").read_text()
    assert "tiny-random-llama" in card and '"learning_rate": 0.008' in card and '"test": true' in card
    rows = [json.loads(line) for line in outcome.metrics_path.read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 16))
    assert all({"learning_rate", "grad_norm"} <= set(r) for r in steps)
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert (outcome.metrics_path.parent / "checkpoints").is_dir()


def test_dpo_from_sft_uses_sft_reference_and_raises_margin(sft_run, reloaded, tmp_path):
    def margin(engine, adapter):
        scores = engine.logprobs([(p, [c, r]) for p, c, r in PAIRS], adapter=adapter)
        return sum(a.sum - b.sum for a, b in scores) / len(scores)

    sft_dir = sft_run[1].adapter_dir
    before = margin(reloaded, "sft")
    base_chosen = reloaded.logprobs([(p, [c]) for p, c, _ in PAIRS], adapter=None)
    sft_chosen = reloaded.logprobs([(p, [c]) for p, c, _ in PAIRS], adapter="sft")
    assert abs(base_chosen[0][0].sum - sft_chosen[0][0].sum) > 0.1  # base and SFT policy differ
    settings = DPOSettings(max_steps=4, batch_size=4, learning_rate=5e-3, **FAST)
    outcome = train_dpo(Engine.load(TINY), PAIRS, settings, tmp_path, sft_adapter=sft_dir)
    rows = [json.loads(line) for line in outcome.metrics_path.read_text().splitlines()]
    first = next(r for r in rows if "rewards/chosen" in r)
    # step 1 is scored before any update: rewards are 0 only if the reference is the SFT policy, not the base
    assert abs(first["rewards/chosen"]) < 1e-4 and abs(first["rewards/rejected"]) < 1e-4
    assert all({"rewards/margins", "rewards/accuracies"} <= set(r) for r in rows if "loss" in r)
    engine = Engine.load(TINY)
    engine.add_adapter("dpo", outcome.adapter_dir)
    assert margin(engine, "dpo") > before + 0.5
    assert not (outcome.adapter_dir / "ref").exists()  # the frozen reference copy is not shipped


class StopAt(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt("simulated interruption")


def test_interrupted_sft_resumes_from_last_checkpoint(tmp_path):
    settings = SFTSettings(max_steps=4, batch_size=4, save_steps=2, **FAST)
    with pytest.raises(KeyboardInterrupt):
        train_sft(Engine.load(TINY), EXAMPLES[:4], settings, tmp_path, callbacks=[StopAt(3)])
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "adapter").exists()
    outcome = train_sft(Engine.load(TINY), EXAMPLES[:4], settings, tmp_path)
    assert outcome.resumed_from is not None and outcome.resumed_from.endswith("checkpoint-2")
    assert outcome.global_step == 4
    assert (outcome.adapter_dir / "adapter_model.safetensors").is_file()
    steps = [json.loads(line)["step"] for line in outcome.metrics_path.read_text().splitlines()]
    logged = [s for s in steps if s <= 4]
    assert sorted(set(logged)) == [1, 2, 3, 4] and len(logged) == len(set(logged)) + 1  # +1: end summary


def test_rows_longer_than_max_length_are_counted_and_said(tmp_path, caplog):
    # A cut row loses its answer's ending (end marker and EOS): never trained on silently.
    engine = Engine.load(TINY)
    lengths = [len(c) + len(d) for c, d in (split_ids(engine, p, q) for p, q in EXAMPLES)]
    limit = sorted(lengths)[len(lengths) // 2] - 1
    expected = sum(n > limit for n in lengths)
    assert 0 < expected <= len(EXAMPLES)
    settings = SFTSettings(max_steps=1, batch_size=8, max_length=limit, **FAST)
    with caplog.at_level("WARNING", logger="selfalign"):
        outcome = train_sft(engine, EXAMPLES, settings, tmp_path)
    assert outcome.cut_at_max_length == expected
    assert f"{expected} of {len(EXAMPLES)} examples are longer than max_length {limit}" in caplog.text
    assert rows_over(engine, EXAMPLES, max(lengths)) == 0 and rows_over(engine, EXAMPLES, None) == 0
    pairs = dpo_dataset(engine, PAIRS)
    rows = zip(pairs["prompt_ids"], pairs["chosen_ids"], pairs["rejected_ids"], strict=True)
    longest = max(len(p) + max(len(c), len(r)) for p, c, r in rows)
    assert pairs_over(pairs, longest) == 0 and pairs_over(pairs, longest - 1) >= 1
    assert pairs_over(pairs, 3) == 4
    eos = engine.tokenizer.eos_token_id
    cut = DPOPair(F.prompt("Q?"), F.completion("Yes."), F.unfinished("No no no no"), rejected_ended=False)
    open_row, closed_row = dpo_dataset(engine, [cut, cut[:3]])  # the flag decides, not the text
    assert open_row["chosen_ids"][-1] == eos and eos not in open_row["rejected_ids"]
    assert engine.guard.decode(open_row["rejected_ids"]) == " No no no no"  # as generated: no END, no EOS
    assert closed_row["rejected_ids"] == [*open_row["rejected_ids"], eos]
